"""Production refuses to start unsafe; development starts with safe defaults."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "t3Jx9-qLm2Vb8Rz0Wc4Ny7Pd1Kf6Hs5Ga_EoUiTjYlXnQwMvBrZk"


def load_settings(**environment: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DEBUG", "TALLY_ENV", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(environment)
    code = "import billing.settings as s; print(s.DEBUG, s.IS_PRODUCTION)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_production_without_a_secret_key_refuses_to_start():
    result = load_settings(TALLY_ENV="production")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when TALLY_ENV=production." in result.stderr


def test_production_with_debug_on_refuses_to_start():
    result = load_settings(TALLY_ENV="production", SECRET_KEY="x" * 50, DEBUG="true")
    assert result.returncode != 0
    assert "DEBUG must be off when TALLY_ENV=production." in result.stderr


def test_production_with_a_secret_key_starts_with_debug_off():
    result = load_settings(TALLY_ENV="production", SECRET_KEY=STRONG_KEY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


def test_development_starts_with_debug_on_by_default():
    result = load_settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False"]
