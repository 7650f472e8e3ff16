"""The customers API: create, read, update, list with search, and its refusals."""

import pytest

from customers.models import Customer
from tests.factories import CustomerFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

ACME = {
    "external_id": "acme",
    "name": "Acme Corp",
    "email": "billing@acme.example",
    "currency": "usd",
    "address_line1": "1 Road Runner Way",
    "city": "Phoenix",
    "postal_code": "85001",
    "state": "AZ",
    "country": "us",
    "tax_id": "US123456789",
    "net_payment_terms_days": 30,
    "invoice_grace_period_hours": 24,
    "metadata": {"segment": "enterprise"},
}


def test_create_then_get_a_customer(api_client):
    response = api_client.post("/api/v1/customers", ACME, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["external_id"] == "acme"
    assert body["currency"] == "USD"
    assert body["country"] == "US"
    assert body["net_payment_terms_days"] == 30
    assert body["invoice_grace_period_hours"] == 24
    assert body["metadata"] == {"segment": "enterprise"}
    assert body["subscriptions"] == []

    fetched = api_client.get("/api/v1/customers/acme")
    assert fetched.status_code == 200
    assert fetched.json() == body


def test_defaults_of_a_minimal_customer(api_client):
    response = api_client.post(
        "/api/v1/customers", {"external_id": "globex", "name": "Globex"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["currency"], body["email"], body["metadata"]) == ("", "", {})
    assert (body["net_payment_terms_days"], body["invoice_grace_period_hours"]) == (0, 0)


def test_a_taken_external_id_is_a_409(api_client):
    CustomerFactory(external_id="acme", name="Acme Corp")

    response = api_client.post("/api/v1/customers", ACME, format="json")

    assert response.status_code == 409
    assert response.json() == {"detail": "A customer with external_id 'acme' already exists."}
    assert Customer.objects.get().name == "Acme Corp"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"colour": "red"}, "colour", "Unknown field."),
        ({"currency": "ABC"}, "currency", "'ABC' is not a known ISO 4217 currency code"),
        ({"country": "U1"}, "country", "'U1' is not an ISO 3166-1 alpha-2 country code"),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"net_payment_terms_days": -1}, "net_payment_terms_days", "greater than or equal to 0"),
        ({"name": "  "}, "name", "This field may not be blank."),
        ({"metadata": ["a"]}, "metadata", 'Expected a dictionary of items but got type "list".'),
    ],
)
def test_bad_customer_input_is_a_400_and_creates_nothing(api_client, changes, field, message):
    response = api_client.post("/api/v1/customers", {**ACME, **changes}, format="json")

    assert response.status_code == 400
    assert message in response.json()[field][0]
    assert not Customer.objects.exists()


def test_missing_required_fields(api_client):
    response = api_client.post("/api/v1/customers", {}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "external_id": ["This field is required."],
        "name": ["This field is required."],
    }


def test_patch_changes_only_what_is_sent(api_client):
    CustomerFactory(external_id="acme", name="Acme", email="old@acme.example", currency="USD")

    response = api_client.patch(
        "/api/v1/customers/acme",
        {"email": "ap@acme.example", "invoice_grace_period_hours": 6},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["email"], body["invoice_grace_period_hours"]) == (
        "Acme",
        "ap@acme.example",
        6,
    )


def test_patch_refusals_leave_the_customer_unchanged(api_client):
    customer = CustomerFactory(external_id="acme", currency="USD")
    SubscriptionFactory(customer=customer)

    renamed = api_client.patch("/api/v1/customers/acme", {"external_id": "acme2"}, format="json")
    recurrency = api_client.patch("/api/v1/customers/acme", {"currency": "EUR"}, format="json")
    unknown = api_client.patch("/api/v1/customers/acme", {"plan": "pro"}, format="json")

    assert renamed.status_code == 400
    assert "external_id cannot be changed" in renamed.json()["external_id"][0]
    assert recurrency.status_code == 400
    assert "its currency cannot change" in recurrency.json()["currency"][0]
    assert unknown.status_code == 400
    assert unknown.json() == {"plan": ["Unknown field."]}
    customer.refresh_from_db()
    assert (customer.external_id, customer.currency) == ("acme", "USD")


def test_unknown_customer_is_a_404(api_client):
    assert api_client.get("/api/v1/customers/nobody").status_code == 404
    response = api_client.patch("/api/v1/customers/nobody", {"name": "X"}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Unknown customer 'nobody'."}


def test_list_with_search_and_paging(api_client):
    CustomerFactory(external_id="acme", name="Acme Corp", email="ap@acme.example")
    CustomerFactory(external_id="globex", name="Globex", email="billing@globex.example")
    CustomerFactory(external_id="initech", name="Initech", tax_id="ACME-LICENSEE")

    everyone = api_client.get("/api/v1/customers")
    found = api_client.get("/api/v1/customers", {"search": "acme"})
    page = api_client.get("/api/v1/customers", {"limit": 1, "offset": 1})

    assert [c["external_id"] for c in everyone.json()] == ["acme", "globex", "initech"]
    assert [c["external_id"] for c in found.json()] == ["acme", "initech"]
    assert page.json()["count"] == 3
    assert [c["external_id"] for c in page.json()["results"]] == ["globex"]


def test_the_customer_lists_its_subscriptions(api_client):
    subscription = SubscriptionFactory(customer=CustomerFactory(external_id="acme"))

    response = api_client.get("/api/v1/customers/acme")

    assert response.json()["subscriptions"] == [subscription.pk]


def test_customers_need_an_api_key(anonymous_client):
    assert anonymous_client.get("/api/v1/customers").status_code == 401
    response = anonymous_client.post("/api/v1/customers", ACME, format="json")
    assert response.status_code == 401
    assert not Customer.objects.exists()


def test_the_api_schema_documents_customers_and_subscriptions(anonymous_client):
    response = anonymous_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    paths = response.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/customers"])
    assert {"get", "patch"} <= set(paths["/api/v1/customers/{external_id}"])
    assert {"get", "post"} <= set(paths["/api/v1/subscriptions"])
    assert "post" in paths["/api/v1/subscriptions/{subscription_id}/change-plan"]
    assert "post" in paths["/api/v1/subscriptions/{subscription_id}/cancel"]
