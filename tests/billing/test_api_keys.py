"""API keys: created once, only a hash stored, Bearer auth, revocation."""

import io
from datetime import timedelta

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from billing.models import ApiKey, hash_api_key
from billing.services import api_key_revoke

pytestmark = pytest.mark.django_db


def test_create_api_key_command_prints_key_last_and_stores_only_hash():
    out = io.StringIO()
    call_command("create_api_key", "Acme backend", stdout=out)
    raw_key = out.getvalue().split()[-1]
    stored = ApiKey.objects.get(name="Acme backend")
    assert stored.key_hash == hash_api_key(raw_key)
    assert raw_key not in {stored.key_hash, stored.prefix}
    assert not ApiKey.objects.filter(key_hash=raw_key).exists()


def test_request_without_key_is_401(anonymous_client):
    response = anonymous_client.get("/api/schema/")
    assert response.status_code == 200  # the schema is public
    response = anonymous_client.post("/api/v1/price-preview", {}, format="json")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_wrong_and_revoked_keys_are_refused(api_client, api_key, anonymous_client):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Bearer tally_not-a-real-key")
    assert anonymous_client.post("/api/v1/price-preview", {}, format="json").status_code == 401

    api_key_revoke(api_key=ApiKey.objects.get(key_hash=hash_api_key(api_key)), at=timezone.now())
    response = api_client.post("/api/v1/price-preview", {}, format="json")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or revoked API key."


EVENT = {"event_name": "api_call", "external_customer_id": "acme"}


def test_a_deleted_key_is_refused_on_its_very_next_request(api_client, api_key):
    assert api_client.post("/api/v1/events", EVENT, format="json").status_code == 202
    ApiKey.objects.filter(key_hash=hash_api_key(api_key)).delete()
    response = api_client.post("/api/v1/events", EVENT, format="json")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or revoked API key."


def test_last_used_is_touched_once_a_minute_not_on_every_request(api_client, api_key):
    api_client.post("/api/v1/events", EVENT, format="json")
    key = ApiKey.objects.get(key_hash=hash_api_key(api_key))
    first_use = key.last_used_at
    assert first_use is not None
    api_client.post("/api/v1/events", EVENT, format="json")
    key.refresh_from_db()
    assert key.last_used_at == first_use  # within the minute: no write
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first_use - timedelta(seconds=61))
    api_client.post("/api/v1/events", EVENT, format="json")
    key.refresh_from_db()
    assert key.last_used_at > first_use


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_dropped_database_connection_does_not_fail_the_next_request(api_client):
    """The key's lookup is the connection's health check (billing/authentication.py): when the
    server dropped the connection between two requests, the next one reconnects and answers."""
    assert api_client.post("/api/v1/events", EVENT, format="json").status_code == 202
    assert connection.health_check_enabled
    with psycopg.connect(connection_string(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    # What Django does when a request starts (the test client skips it).
    connection.close_if_unusable_or_obsolete()
    response = api_client.post("/api/v1/events", EVENT, format="json")
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 1, "duplicates": 0}
    assert connection.health_check_done


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_migration_changing_a_column_under_the_prepared_lookup_does_not_fail_requests(
    api_client,
):
    """The key's lookup is a prepared statement on PostgreSQL: when a column it returns changes
    type, PostgreSQL refuses to run the old one ("cached plan must not change result type");
    the lookup then prepares it afresh on a new connection."""
    assert api_client.post("/api/v1/events", EVENT, format="json").status_code == 202
    with psycopg.connect(connection_string(), autocommit=True) as other:
        other.execute("ALTER TABLE billing_apikey ALTER COLUMN prefix TYPE varchar(20)")
    try:
        response = api_client.post("/api/v1/events", EVENT, format="json")
        assert response.status_code == 202, response.content
    finally:
        connection.close()
        with psycopg.connect(connection_string(), autocommit=True) as other:
            other.execute("ALTER TABLE billing_apikey ALTER COLUMN prefix TYPE varchar(16)")


def connection_string() -> str:
    settings = connection.settings_dict
    return (
        f"host={settings['HOST']} port={settings['PORT'] or 5432} "
        f"user={settings['USER']} dbname={settings['NAME']}"
        + (f" password={settings['PASSWORD']}" if settings["PASSWORD"] else "")
    )
