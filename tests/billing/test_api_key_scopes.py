"""API key scopes (docs/api.md, "API keys and scopes"): every API route, every method, every
scope. An `ingest` key only sends events, a `read` key only reads, a `full` key does everything."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from billing.models import ApiKey, ApiKeyScope
from billing.services import api_key_create

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


def _api_routes():
    """(path, view class) for every route under /api/v1/, found in the URLconf itself so a
    route added later is covered without touching this test."""
    api = next(
        pattern
        for pattern in get_resolver().url_patterns
        if isinstance(pattern, URLResolver) and "api/v1" in str(pattern.pattern)
    )

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
                yield route, pattern.callback.cls

    routes = []
    for route, view_class in walk(api.url_patterns, "/api/v1/"):
        path = re.sub(r"<(?:\w+:)?\w+>", "x1", route)
        routes.extend(
            (path, method, view_class) for method in METHODS if hasattr(view_class, method)
        )
    return routes


ROUTES = _api_routes()


def _client(scope: str) -> APIClient:
    _, raw_key = api_key_create(name=f"{scope} key", scope=scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def _allowed(scope: str, method: str, view_class) -> bool:
    if getattr(view_class, "api_public_endpoint", False) is True:
        return True  # the API root: open to anyone, with or without a key
    if scope == ApiKeyScope.FULL:
        return True
    if scope == ApiKeyScope.READ:
        return method == "get"
    return getattr(view_class, "api_ingestion_endpoint", False) is True


def test_the_walk_finds_the_api():
    paths = {path for path, _, _ in ROUTES}
    assert {"/api/v1/events", "/api/v1/plans", "/api/v1/invoices"} <= paths
    assert len(ROUTES) > 20


@pytest.mark.parametrize("scope", ApiKeyScope.values)
@pytest.mark.parametrize(
    ("path", "method", "view_class"), ROUTES, ids=[f"{m.upper()} {p}" for p, m, _ in ROUTES]
)
def test_every_route_answers_each_scope(scope, path, method, view_class):
    client = _client(scope)
    response = getattr(client, method)(path, {}, format="json")
    if _allowed(scope, method, view_class):
        assert response.status_code != 403, response.content
    else:
        assert response.status_code == 403
        assert f"'{scope}' scope" in response.json()["detail"]


def test_an_ingest_key_sends_events_but_cannot_read_invoices_or_create_plans():
    client = _client(ApiKeyScope.INGEST)
    event = {"event_name": "api_call", "external_customer_id": "acme"}
    assert client.post("/api/v1/events", event, format="json").status_code == 202

    response = client.get("/api/v1/invoices")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "This API key has the 'ingest' scope: it may only send events."
    }
    plan = {"code": "pro", "name": "Pro", "currency": "USD", "interval": "month"}
    assert client.post("/api/v1/plans", plan, format="json").status_code == 403


def test_a_read_key_reads_but_cannot_write():
    client = _client(ApiKeyScope.READ)
    assert client.get("/api/v1/invoices").status_code == 200
    response = client.post("/api/v1/customers", {"external_id": "a", "name": "A"}, format="json")
    assert response.status_code == 403
    assert "'read' scope" in response.json()["detail"]
    event = {"event_name": "api_call", "external_customer_id": "acme"}
    assert client.post("/api/v1/events", event, format="json").status_code == 403


def test_use_stamps_last_used_and_revocation_refuses_the_key():
    client = _client(ApiKeyScope.READ)
    key = ApiKey.objects.get(name="read key")
    assert key.last_used_at is None
    client.get("/api/v1/invoices")
    key.refresh_from_db()
    assert key.last_used_at is not None

    key.revoked_at = timezone.now()
    key.save()
    assert client.get("/api/v1/invoices").status_code == 401


def test_scope_is_validated_and_shown_by_the_command(capsys):
    from django.core.management import call_command

    with pytest.raises(ValueError, match="Unknown scope"):
        api_key_create(name="x", scope="admin")
    call_command("create_api_key", "Collector", "--scope", "ingest")
    assert ApiKey.objects.get(name="Collector").scope == ApiKeyScope.INGEST
    assert "(ingest)" in capsys.readouterr().out
