"""Layering (docs/architecture.md): rating is pure, lower apps never import higher ones."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_importing_rating_does_not_load_django():
    code = "import sys, rating; import rating.periods; print('django' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


FORBIDDEN = {
    "rating": {
        "django",
        "rest_framework",
        "billing",
        "catalog",
        "customers",
        "metering",
        "invoices",
        "payments",
        "notifications",
        "lab",
        "finance",
        "console",
    },
    "catalog": {
        "customers",
        "metering",
        "invoices",
        "payments",
        "notifications",
        "lab",
        "finance",
        "console",
    },
    "customers": {"metering", "invoices", "payments", "notifications", "lab", "finance", "console"},
    "metering": {"invoices", "payments", "notifications", "lab", "finance", "console"},
    "invoices": {"payments", "notifications", "lab", "finance", "console"},
    "payments": {"notifications", "lab", "finance", "console"},
    "notifications": {"lab", "finance", "console"},
    "lab": {"finance", "console"},
    "finance": {"console"},
    # billing is the project (settings, API plumbing) every app imports: the console sits above.
    "billing": {"console"},
}


def test_lower_layers_never_import_higher_ones():
    offenders = []
    for app, forbidden in FORBIDDEN.items():
        for path in (ROOT / app).rglob("*.py"):
            for line in path.read_text().splitlines():
                stripped = line.strip()
                if not stripped.startswith(("import ", "from ")):
                    continue
                module = stripped.split()[1].split(".")[0]
                if module in forbidden:
                    offenders.append(f"{path.relative_to(ROOT)}: {stripped}")
    assert offenders == []
