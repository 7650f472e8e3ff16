"""Issue 9, item 9: the API answers as its OpenAPI schema says (schemathesis, every check).

Bounded: a few examples per operation, generated from the live schema (/api/schema/) and sent
to the WSGI application in-process with a real API key.
"""

from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

from billing.services import api_key_create
from invoices.services.credit_notes import credit_note_issue
from tests.factories import (
    ChargeFactory,
    CustomerFactory,
    FeeLineFactory,
    FinalizedInvoiceFactory,
    MeterFactory,
    PlanFactory,
    SubscriptionFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """The WSGI app is called directly (not through Django's test client): like the test
    client, keep Django from closing the test's connection (and transaction) after each
    request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


EXAMPLES_PER_OPERATION = 4
# Every check, with one adjustment: a body valid by the schema may still be refused with a 400
# for what a schema cannot say (a plan or customer that does not exist, a currency code that
# is no ISO 4217 currency, a field one aggregation needs and another does not).
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "404", "409", "429"]
            }
        }
    }
)


def test_every_operation_answers_as_its_schema_says():
    _, raw_key = api_key_create(name="schemathesis")
    auth = {"Authorization": f"Bearer {raw_key}"}
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json", get_wsgi_application(), headers=auth, config=CONFIG
    )
    failures = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case):
            case.call_and_validate(headers=auth)

        try:
            check()
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - collect them all
            failures[operation.label] = str(error)[:2000]

    report = "\n\n".join(f"=== {label}\n{text}" for label, text in failures.items())
    assert not failures, report


def test_real_resources_match_the_schema_too(api_client):
    """Rows random ids never meet: a draft (no links), a fee line (no meter), a tiered charge
    (a null up_to), an upcoming invoice (no id, no number), and lists in both shapes."""
    _, raw_key = api_key_create(name="schemathesis-rows")
    auth = {"Authorization": f"Bearer {raw_key}"}
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json", get_wsgi_application(), headers=auth, config=CONFIG
    )
    plan = PlanFactory(code="pro", currency="USD", base_amount=Decimal("29.00"))
    meter = MeterFactory(code="calls", event_name="api_call", aggregation="count")
    charge = ChargeFactory(plan=plan, meter=meter, model="graduated")
    # Positions given: the factory's sequence depends on the tests run before this one.
    TierFactory(charge=charge, up_to=Decimal("1000"), unit_amount=Decimal("0.80"), position=0)
    TierFactory(charge=charge, up_to=None, unit_amount=Decimal("0.40"), position=1)
    invoice = FinalizedInvoiceFactory.with_tiered_usage()
    FeeLineFactory(invoice=invoice)
    draft = FinalizedInvoiceFactory(status="draft", number=None, issued_at=None)
    customer = CustomerFactory(external_id="acme", currency="USD")
    SubscriptionFactory(customer=customer, plan=plan)
    note = credit_note_issue(
        invoice=invoice,
        reason="Outage",
        outcome="wallet",
        at=invoice.issued_at,
        amount=Decimal("5"),
    )

    calls = [
        ("/api/v1/credit-notes", {}, {}),
        ("/api/v1/credit-notes/{credit_note_id}", {"credit_note_id": str(note.pk)}, {}),
        ("/api/v1/tax-rates", {}, {}),
        ("/api/v1/coupons", {}, {}),
        ("/api/v1/invoices/{invoice_id}", {"invoice_id": str(invoice.pk)}, {}),
        ("/api/v1/invoices/{invoice_id}", {"invoice_id": str(draft.pk)}, {}),
        ("/api/v1/invoices", {}, {}),
        ("/api/v1/invoices", {}, {"limit": 1}),
        ("/api/v1/plans/{code}", {"code": "pro"}, {}),
        ("/api/v1/plans", {}, {"limit": 5, "offset": 0}),
        ("/api/v1/customers/{external_id}/upcoming-invoice", {"external_id": "acme"}, {}),
        ("/api/v1/customers/{external_id}/usage", {"external_id": "acme"}, {}),
        ("/api/v1/subscriptions", {}, {}),
        ("/api/v1/customers", {}, {"limit": 2}),
    ]
    for path, path_parameters, query in calls:
        case = schema[path]["GET"].Case(path_parameters=path_parameters, query=query)
        response = case.call_and_validate(headers=auth)
        assert response.status_code == 200, (path, response.content)
