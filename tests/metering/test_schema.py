"""The OpenAPI schema documents the metering endpoints."""

import pytest


@pytest.mark.django_db
def test_schema_lists_the_event_and_usage_endpoints(anonymous_client):
    response = anonymous_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/events", "/api/v1/events/batch"} <= set(paths)
    assert "/api/v1/customers/{external_id}/usage" in paths
    assert "202" in paths["/api/v1/events/batch"]["post"]["responses"]
