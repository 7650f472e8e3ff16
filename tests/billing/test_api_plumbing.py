"""Issue 9, items 3 and 6: every API answer is JSON and a 4xx for bad input; lists are bounded.

The shared plumbing in billing/api.py: one error type mapped once, NUL and lone surrogates
refused wherever they come in, unknown URLs and crashes in JSON, limit/offset checked.
"""

import json
from unittest import mock

import pytest

from customers.models import Customer, Subscription
from tests.factories import CustomerFactory, PlanFactory

pytestmark = pytest.mark.django_db

NUL_BODIES = [
    ("post", "/api/v1/customers", {"external_id": "n", "name": "N", "metadata": {"k": "a\x00"}}),
    ("post", "/api/v1/customers", {"external_id": "n", "name": "N", "metadata": {"k\x00": 1}}),
    ("post", "/api/v1/customers", {"external_id": "n", "name": "N\x00"}),
    ("patch", "/api/v1/customers/acme", {"name": "bad\x00"}),
    ("patch", "/api/v1/customers/acme", {"metadata": {"k": "\ud800"}}),
    ("post", "/api/v1/plans", {"code": "p", "name": "P", "currency": "USD",
                               "interval": "month", "metadata": {"k": "\x00"}}),
    ("post", "/api/v1/meters", {"code": "m", "name": "M", "event_name": "e",
                                "aggregation": "count", "filters": {"a": ["\x00"]}}),
    ("post", "/api/v1/subscriptions", {"customer": "acme", "plan": "pro",
                                       "metadata": {"k": "\x00"}}),
]  # fmt: skip


@pytest.fixture
def acme():
    PlanFactory(code="pro")
    return CustomerFactory(external_id="acme", name="Acme", currency="USD")


@pytest.mark.parametrize(("method", "path", "body"), NUL_BODIES)
def test_nul_or_a_lone_surrogate_in_a_body_is_a_json_400(api_client, acme, method, path, body):
    # json.dumps escapes them (\u0000, \ud800) as an integration's JSON library would.
    text = json.dumps(body)
    response = getattr(api_client, method)(path, data=text, content_type="application/json")

    assert response.status_code == 400
    assert "NUL" in str(response.json())
    assert Customer.objects.get().name == "Acme"
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers?search=%00",
        "/api/v1/customers?currency=%00",
        "/api/v1/invoices?customer=%00",
        "/api/v1/subscriptions?customer=%00",
        "/api/v1/subscriptions?plan=%00",
    ],
)
def test_nul_in_a_query_parameter_is_a_json_400(api_client, path):
    response = api_client.get(path)

    assert response.status_code == 400
    assert "NUL" in str(response.json())


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers/acme%00",
        "/api/v1/customers/acme%00/usage",
        "/api/v1/customers/acme%00/upcoming-invoice",
        "/api/v1/no-such-thing",
        "/api/v1/invoices/99999999999999999999999",
    ],
)
def test_unknown_or_unstorable_paths_are_a_json_404(api_client, path):
    response = api_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_an_unexpected_error_is_a_json_500(api_client):
    with mock.patch("customers.api.views.customer_list", side_effect=RuntimeError("bug")):
        response = api_client.get("/api/v1/customers")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal error; it has been logged."}


def test_service_conflicts_are_409_through_the_one_handler(api_client, acme):
    response = api_client.post(
        "/api/v1/customers", {"external_id": "acme", "name": "Again"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {"detail": "A customer with external_id 'acme' already exists."}


# --- lists -------------------------------------------------------------------------------------


@pytest.fixture
def many_customers():
    Customer.objects.bulk_create(
        [Customer(external_id=f"c{n:04d}", name=f"C {n:04d}") for n in range(105)]
    )


def test_a_list_without_limit_is_a_bounded_plain_array_with_a_next_link(api_client, many_customers):
    response = api_client.get("/api/v1/customers")

    assert isinstance(response.json(), list)
    assert len(response.json()) == 100
    assert response["X-Total-Count"] == "105"
    assert 'rel="next"' in response["Link"] and "offset=100" in response["Link"]


def test_with_limit_a_list_is_a_page(api_client, many_customers):
    page = api_client.get("/api/v1/customers?limit=10&offset=100").json()

    assert page["count"] == 105
    assert [c["external_id"] for c in page["results"]] == [f"c{n:04d}" for n in range(100, 105)]
    assert page["next"] is None


@pytest.mark.parametrize(
    "query",
    ["limit=-1", "limit=abc", "limit=0", "limit=1001", "offset=-5", "offset=x", "limit=1e3"],
)
@pytest.mark.parametrize(
    "path", ["/api/v1/customers", "/api/v1/invoices", "/api/v1/subscriptions", "/api/v1/meters"]
)
def test_a_bad_limit_or_offset_is_a_400(api_client, path, query):
    response = api_client.get(f"{path}?{query}")

    assert response.status_code == 400
    assert set(response.json()) <= {"limit", "offset"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/customers", {"external_id": "big", "name": "Big"}),
        ("/api/v1/plans", {"code": "big", "name": "Big", "currency": "USD", "interval": "month"}),
    ],
)
def test_metadata_is_bounded(api_client, path, body):
    response = api_client.post(path, {**body, "metadata": {"note": "x" * 17_000}}, format="json")

    assert response.status_code == 400
    assert "16384 bytes" in response.json()["metadata"][0]
