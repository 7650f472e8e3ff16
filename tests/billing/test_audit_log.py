"""The audit log (docs/operations.md, "Audit log"): who changed what, when, field by field, for
each kind of billing change; visible per object and as a searchable, append-only list."""

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from billing.models import ApiKey
from catalog.models import Charge, Plan, Tier
from customers.models import Customer, Subscription, SubscriptionPhase
from invoices.models import Invoice
from invoices.services import cycles_close
from tests.invoices.helpers import customer, meter, pro_plan, send, subscribe, utc

pytestmark = pytest.mark.django_db

API_ACTOR = "API key test integration (tally_"


def entries_for(model, **filters):
    content_type = ContentType.objects.get_for_model(model)
    return LogEntry.objects.filter(content_type=content_type, **filters).order_by("timestamp")


def test_plan_charges_and_tiers_created_through_the_api_name_the_api_key(api_client):
    meter("api_calls")
    response = api_client.post(
        "/api/v1/plans",
        {
            "code": "scale",
            "name": "Scale",
            "currency": "USD",
            "interval": "month",
            "charges": [
                {
                    "meter": "api_calls",
                    "model": "graduated",
                    "tiers": [
                        {"up_to": "1000", "unit_amount": "0.80"},
                        {"up_to": None, "unit_amount": "0.60"},
                    ],
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content

    for model, count in ((Plan, 1), (Charge, 1), (Tier, 2)):
        created = entries_for(model, action=LogEntry.Action.CREATE)
        assert created.count() == count
        assert all(entry.actor_email.startswith(API_ACTOR) for entry in created)
        assert all(entry.actor is None for entry in created)
    key = ApiKey.objects.get(name="test integration")
    assert entries_for(Plan).get().additional_data == {
        "api_key_id": key.pk,
        "api_key": "test integration",
    }
    plan_entry = entries_for(Plan).get()
    assert plan_entry.changes_dict["code"] == [None, "scale"]


def test_a_customer_changed_in_the_admin_records_the_user_and_before_after(admin_client):
    acme = customer("acme")
    response = admin_client.post(
        f"/admin/customers/customer/{acme.pk}/change/",
        {
            "external_id": "acme",
            "name": "Acme Corporation",
            "email": "billing@acme.example",
            "currency": "",
            "net_payment_terms_days": "30",
            "invoice_grace_period_hours": "0",
            "metadata": "{}",
        },
    )
    assert response.status_code == 302, response.content.decode()

    entry = entries_for(Customer, action=LogEntry.Action.UPDATE).get()
    assert entry.actor.username == "admin"
    assert entry.changes_dict["name"] == ["Acme Inc.", "Acme Corporation"]
    assert entry.changes_dict["net_payment_terms_days"] == [0, 30]

    history = admin_client.get(f"/admin/customers/customer/{acme.pk}/history/")
    page = history.content.decode()
    assert "Audit trail" in page
    assert "Acme Inc. → Acme Corporation" in page
    assert "admin" in page


def test_subscription_lifecycle_through_the_api_is_audited(api_client):
    customer("acme")
    pro_plan()
    response = api_client.post(
        "/api/v1/subscriptions", {"customer": "acme", "plan": "pro"}, format="json"
    )
    assert response.status_code == 201, response.content
    subscription_id = response.json()["id"]
    response = api_client.post(
        f"/api/v1/subscriptions/{subscription_id}/cancel", {"at_period_end": False}, format="json"
    )
    assert response.status_code == 200, response.content

    created = entries_for(Subscription, action=LogEntry.Action.CREATE).get()
    assert created.actor_email.startswith(API_ACTOR)
    canceled = entries_for(Subscription, action=LogEntry.Action.UPDATE).last()
    assert canceled.changes_dict["status"] == ["active", "canceled"]
    assert canceled.actor_email.startswith(API_ACTOR)
    assert entries_for(SubscriptionPhase, action=LogEntry.Action.CREATE).count() == 1


def test_invoice_status_changes_are_audited_and_a_closed_invoice_has_its_entry(api_client):
    pro = pro_plan()
    subscribe(customer("acme", invoice_grace_period_hours=48), pro, started_at=utc(2026, 3, 1))
    subscribe(customer("globex"), pro, started_at=utc(2026, 3, 1))
    send("acme", "api_call", utc(2026, 3, 2), count=10)
    cycles_close(at=utc(2026, 4, 1))
    draft = Invoice.objects.get(customer__external_id="acme")
    issued = Invoice.objects.get(customer__external_id="globex")

    # Issued by the cycle close (no grace): one entry, status finalized, no actor.
    entry = entries_for(Invoice, object_pk=str(issued.pk)).get()
    assert entry.changes_dict["status"] == [None, "finalized"]
    assert entry.actor is None and entry.actor_email is None

    assert api_client.post(f"/api/v1/invoices/{draft.pk}/finalize").status_code == 200
    assert api_client.post(f"/api/v1/invoices/{draft.pk}/void").status_code == 200
    changes = [e.changes_dict["status"] for e in entries_for(Invoice, object_pk=str(draft.pk))]
    assert changes == [["draft", "finalized"], ["finalized", "void"]]


def test_api_keys_are_audited_without_their_hash():
    from billing.services import api_key_create, api_key_revoke

    key, raw_key = api_key_create(name="Collector", scope="ingest")
    api_key_revoke(api_key=key, at=timezone.now())
    created, revoked = entries_for(ApiKey)
    assert created.changes_dict["scope"] == [None, "ingest"]
    assert "key_hash" not in created.changes_dict
    assert list(revoked.changes_dict) == ["revoked_at"]
    assert raw_key not in str(created.changes)


def test_the_audit_list_is_searchable_and_append_only(admin_client, api_client):
    customer("acme")
    customer("globex")
    listing = admin_client.get("/admin/auditlog/logentry/", {"q": "globex"})
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "Globex Inc." in page and "Acme Inc." not in page

    entry = entries_for(Customer).first()
    assert admin_client.get(f"/admin/auditlog/logentry/{entry.pk}/change/").status_code == 200
    assert admin_client.get(f"/admin/auditlog/logentry/{entry.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/auditlog/logentry/add/").status_code == 403
    edited = admin_client.post(
        f"/admin/auditlog/logentry/{entry.pk}/change/", {"object_repr": "forged"}
    )
    assert edited.status_code == 403
    entry.refresh_from_db()
    assert entry.object_repr == "Acme Inc. (acme)"


def test_invoices_the_close_issues_together_are_audited_once_each_with_the_actor(admin_user):
    from auditlog.context import set_actor

    pro = pro_plan()
    for external_id in ("acme", "globex", "initech"):
        subscribe(customer(external_id), pro, started_at=utc(2026, 3, 1))

    with set_actor(admin_user):
        cycles_close(at=utc(2026, 4, 1))
    cycles_close(at=utc(2026, 4, 1))  # nothing due: no second entry

    for invoice in Invoice.objects.all():
        entry = entries_for(Invoice, object_pk=str(invoice.pk)).get()
        assert entry.changes_dict["number"] == [None, invoice.number]
        assert entry.actor == admin_user and entry.object_repr == str(invoice)
