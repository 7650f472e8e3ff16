"""Issue 9, items 5 and 8: production settings that hold.

`check --deploy` is clean under the documented production environment (docs/operations.md);
HSTS and a strict CSP are sent, and the admin, Swagger UI and hosted invoice page work under
it (their scripts are files, none inline); CACHE_URL and Q_REDIS_URL accept redis:// URLs.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from invoices.documents import invoice_hosted_url
from tests.factories import FinalizedInvoiceFactory

ROOT = Path(__file__).resolve().parents[2]
# The production environment docs/operations.md documents (the key is an example).
PRODUCTION = {
    "TALLY_ENV": "production",
    "SECRET_KEY": "k8Jq2-Vn5Rt7Yb0Wx3Zc6Mf9Lp1Hs4Gd_AeUoIiTyRnQwMvBzXsPk",
    "ALLOWED_HOSTS": "billing.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://billing.example.com",
    "PUBLIC_BASE_URL": "https://billing.example.com",
    "DATABASE_URL": "sqlite:////tmp/tally-deploy-check.sqlite3",
    "CACHE_URL": "redis://127.0.0.1:6379/7",
}


def run(code_or_args: list[str], **environment: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DEBUG", "TALLY_ENV", "DJANGO_SETTINGS_MODULE"}
        and not key.startswith(("DATABASE_URL", "CACHE_URL", "Q_REDIS_URL"))
    }
    env.update(environment)
    return subprocess.run(
        [sys.executable, *code_or_args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_check_deploy_is_clean_with_the_documented_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)

    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "secret_key", ["x", "", "x" * 60, "django-insecure-" + "a1b2c3d4e5" * 5, "short-Key-42"]
)
def test_production_refuses_a_short_or_default_secret_key(secret_key):
    result = run(["-c", "import billing.settings"], **{**PRODUCTION, "SECRET_KEY": secret_key})

    assert result.returncode != 0
    assert "SECRET_KEY must be at least 50 random characters" in result.stderr


def test_production_sends_hsts_and_redirects_to_https():
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='billing.settings';"
        "django.setup(); from django.test import Client;"
        "r = Client().get('/admin/login/', secure=True, HTTP_HOST='billing.example.com');"
        "print(r['Strict-Transport-Security']);"
        "print(Client().get('/admin/login/', HTTP_HOST='billing.example.com').status_code)"
    )
    result = run(["-c", code], **PRODUCTION)

    assert result.returncode == 0, result.stderr
    hsts, plain = result.stdout.split("\n")[:2]
    assert hsts == "max-age=31536000; includeSubDomains; preload"
    assert plain == "301"


def _csp(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part for part in (p.strip() for p in header.split(";")) if part}


def _no_inline_scripts(html: str) -> None:
    """Every <script> is a file (src=) or inert JSON data: nothing CSP would block."""
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_the_admin_works_under_a_strict_csp(admin_client):
    response = admin_client.get("/admin/customers/subscription/")

    assert response.status_code == 200
    policy = _csp(response)
    assert policy["script-src"] == "script-src 'self'"
    assert policy["object-src"] == "object-src 'none'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    _no_inline_scripts(response.content.decode())


def test_swagger_ui_works_under_the_csp(client, db):
    page = client.get("/api/docs/")
    html = page.content.decode()
    _no_inline_scripts(html)
    script_url = re.search(r'<script src="([^"]*\?script[^"]*)"', html).group(1)

    script = client.get(script_url.replace("&amp;", "&"))

    assert page.status_code == 200 and "Content-Security-Policy" in page
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_the_hosted_invoice_page_works_under_the_csp(client, db):
    invoice = FinalizedInvoiceFactory(number="INV-2026-000009")

    response = client.get(invoice_hosted_url(invoice=invoice).removeprefix("http://testserver"))

    assert response.status_code == 200
    assert "INV-2026-000009" in response.content.decode()
    assert _csp(response)["script-src"] == "script-src 'self'"
    _no_inline_scripts(response.content.decode())


def test_redis_urls_for_the_cache_and_the_task_broker_work():
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='billing.settings';"
        "django.setup();"
        "from django.core.cache import cache; cache.set('tally-test-redis', 'ok', 5);"
        "print(cache.get('tally-test-redis')); cache.delete('tally-test-redis');"
        "from django_q.brokers import get_broker; print(get_broker().ping())"
    )
    result = run(
        ["-c", code],
        CACHE_URL="redis://127.0.0.1:6379/7",
        CACHE_KEY_PREFIX="tally-test",
        Q_REDIS_URL="redis://127.0.0.1:6379/7",
    )

    if "Connection refused" in result.stderr:
        pytest.skip("Redis not reachable at 127.0.0.1:6379")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", "True"]


def test_the_wsgi_worker_freezes_the_loaded_project_out_of_the_collectors_way():
    # gunicorn imports billing.wsgi in each worker: the views are loaded and every object the
    # loaded project holds is in the permanent generation, so a full collection walks only
    # what requests leave behind (docs/performance.md, "The garbage collector's pauses").
    code = (
        "import gc, sys; import billing.wsgi; "
        "print(gc.get_freeze_count(), 'metering.fast_path' in sys.modules, "
        "'invoices.api.views' in sys.modules)"
    )
    result = run(["-c", code], **PRODUCTION)

    assert result.returncode == 0, result.stderr
    frozen, fast_path_loaded, views_loaded = result.stdout.split()
    assert int(frozen) > 100_000
    assert fast_path_loaded == "True" and views_loaded == "True"
