"""/api/v1/webhook-endpoints (docs/api.md, "Outgoing webhooks"): create (secret answered once),
list, read, change; refusals are 400/404 and change nothing; changes are audited."""

import pytest
from auditlog.models import LogEntry

from notifications.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhook-endpoints"


def test_create_list_read_and_switch_off(api_client):
    response = api_client.post(
        URL,
        {"url": "https://example.com/hooks", "event_types": ["invoice.finalized"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["invoice.finalized"] and created["is_active"] is True
    endpoint_id = created["id"]

    listed = api_client.get(URL).json()
    assert [e["id"] for e in listed] == [endpoint_id]
    one = api_client.get(f"{URL}/{endpoint_id}").json()
    assert one["url"] == "https://example.com/hooks" and "secret" not in one

    response = api_client.patch(f"{URL}/{endpoint_id}", {"is_active": False}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False

    entries = LogEntry.objects.get_for_object(WebhookEndpoint.objects.get()).order_by("timestamp")
    assert [entry.action for entry in entries] == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
    assert created["secret"] not in str(entries[0].changes)  # masked in the audit log


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://example.com", "event_types": ["invoice.exploded"]}, "event_types"),
        ({"url": "https://example.com", "event_types": "invoice.paid"}, "event_types"),
        ({"url": "https://example.com", "secret": "mine"}, "secret"),
        ({}, "url"),
    ],
)
def test_bad_input_is_a_400_that_creates_nothing(api_client, body, field):
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not WebhookEndpoint.objects.exists()


def test_unknown_endpoints_are_404(api_client):
    assert api_client.get(f"{URL}/999").status_code == 404
    assert api_client.patch(f"{URL}/abc", {}, format="json").status_code == 404
