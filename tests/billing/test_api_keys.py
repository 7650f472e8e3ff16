"""API keys: created once, only a hash stored, Bearer auth, revocation."""

import io

import pytest
from django.core.management import call_command
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
