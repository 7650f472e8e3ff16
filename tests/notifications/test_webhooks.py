"""Outgoing webhooks (docs/api.md, "Outgoing webhooks"): signed per Standard Webhooks, written
to the outbox in the announcing transaction, delivered by django-q2 (sync in tests) with
retries and exponential backoff, logged, resendable."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from customers.models import Subscription
from customers.services import subscription_cancel, subscription_create
from notifications.models import MessageStatus, WebhookDelivery, WebhookMessage
from notifications.services.webhooks import (
    webhook_endpoint_create,
    webhook_event_enqueue,
    webhook_message_deliver,
    webhook_messages_deliver_due,
    webhook_signature_headers,
)
from tests.factories import CustomerFactory, PlanFactory

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = '{"type":"invoice.finalized","timestamp":"2026-04-01T00:00:00+00:00","data":{"id":1}}'


def verify(request, secret):
    return Webhook(secret).verify(request["body"], request["headers"])


# --- signatures ----------------------------------------------------------------------------


def test_a_signature_verifies_with_the_endpoint_secret():
    headers = webhook_signature_headers(secret=SECRET, msg_id="msg_1", body=BODY, at=timezone.now())
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(BODY, headers)["data"] == {"id": 1}


def test_a_tampered_body_or_another_secret_fails_verification():
    headers = webhook_signature_headers(secret=SECRET, msg_id="msg_1", body=BODY, at=timezone.now())
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(SECRET).verify(BODY.replace('"id":1', '"id":2'), headers)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(SECRET).verify(BODY, {**headers, "webhook-id": "msg_2"})
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(BODY, headers)


def test_a_stale_timestamp_fails_verification():
    stale = timezone.now() - timedelta(minutes=10)
    headers = webhook_signature_headers(secret=SECRET, msg_id="msg_1", body=BODY, at=stale)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(BODY, headers)


# --- delivery ------------------------------------------------------------------------------


@pytest.fixture
def customer(db):
    return CustomerFactory(external_id="acme", currency="USD", email="billing@acme.example")


@pytest.fixture
def plan(db):
    return PlanFactory(code="pro", name="Pro")


def test_a_new_subscription_is_announced_signed_to_the_endpoints_listening(
    api_client, receiver, customer, plan, django_capture_on_commit_callbacks
):
    listening = webhook_endpoint_create(url=receiver.url, event_types=["subscription.created"])
    webhook_endpoint_create(url=receiver.url + "/invoices", event_types=["invoice.finalized"])
    webhook_endpoint_create(url=receiver.url + "/off", is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/v1/subscriptions", {"customer": "acme", "plan": "pro"}, format="json"
        )
    assert response.status_code == 201

    [request] = receiver.requests
    assert request["path"] == "/hooks"
    payload = verify(request, listening.secret)
    assert payload["type"] == "subscription.created"
    assert payload["data"]["id"] == response.json()["id"]
    assert payload["data"]["customer"] == "acme"
    assert payload["data"]["plan"] == "pro"
    assert payload["data"]["status"] == "active"
    message = WebhookMessage.objects.get()
    assert request["headers"]["webhook-id"] == message.msg_id
    assert (message.status, message.attempts) == (MessageStatus.DELIVERED, 1)
    assert list(message.deliveries.values_list("status_code", flat=True)) == [200]


def test_failed_deliveries_are_retried_with_exponential_backoff_until_success(
    receiver, db, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 60
    endpoint = webhook_endpoint_create(url=receiver.url)
    receiver.statuses = [500, 503]
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_enqueue(event_type="invoice.finalized", data={"id": 7}, at=timezone.now())
    message = WebhookMessage.objects.get(endpoint=endpoint)
    first = message.deliveries.get()
    assert (first.attempt, first.status_code, first.response_body) == (1, 500, "try later")
    message.refresh_from_db()
    assert message.status == MessageStatus.PENDING
    assert message.next_attempt_at == first.attempted_at + timedelta(seconds=60)

    # Not due yet: nothing is sent.
    assert webhook_messages_deliver_due(at=first.attempted_at + timedelta(seconds=59)) == []
    [second] = webhook_messages_deliver_due(at=message.next_attempt_at)
    assert (second.attempt, second.status_code) == (2, 503)
    message.refresh_from_db()
    assert message.next_attempt_at == second.attempted_at + timedelta(seconds=120)

    [third] = webhook_messages_deliver_due(at=message.next_attempt_at)
    assert (third.attempt, third.status_code) == (3, 200)
    message.refresh_from_db()
    assert (message.status, message.delivered_at) == (MessageStatus.DELIVERED, third.attempted_at)
    assert len(receiver.requests) == 3
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {message.msg_id}
    assert webhook_messages_deliver_due(at=message.delivered_at + timedelta(days=1)) == []


def test_an_unreachable_endpoint_is_logged_and_exhausted_retries_fail(db, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    webhook_endpoint_create(url="http://127.0.0.1:9/closed")
    at = timezone.now()
    [message] = webhook_event_enqueue(event_type="invoice.finalized", data={}, at=at)
    first = webhook_message_deliver(message_id=message.pk, at=at)
    assert first.status_code is None and "Connection refused" in first.error
    message.refresh_from_db()
    second = webhook_message_deliver(message_id=message.pk, at=message.next_attempt_at)
    assert second.attempt == 2
    message.refresh_from_db()
    assert (message.status, message.next_attempt_at) == (MessageStatus.FAILED, None)
    assert webhook_message_deliver(message_id=message.pk, at=at + timedelta(days=1)) is None


def test_the_delivery_log_shows_status_codes_and_resend_sends_again(
    admin_client, receiver, db, django_capture_on_commit_callbacks
):
    endpoint = webhook_endpoint_create(url=receiver.url)
    receiver.statuses = [500]
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_enqueue(event_type="invoice.finalized", data={"id": 1}, at=timezone.now())
    message = WebhookMessage.objects.get()

    listing = admin_client.get("/admin/notifications/webhookmessage/").content.decode()
    assert "invoice.finalized" in listing and "500" in listing
    page = admin_client.get(f"/admin/notifications/webhookmessage/{message.pk}/change/")
    assert "Resend" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/notifications/webhookmessage/{message.pk}/resend/")
    assert response.status_code == 302
    assert list(
        WebhookDelivery.objects.order_by("attempt").values_list("status_code", flat=True)
    ) == [500, 200]
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert verify(receiver.requests[-1], endpoint.secret)["data"] == {"id": 1}
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_leaves_no_outbox_row_and_sends_nothing(receiver):
    webhook_endpoint_create(url=receiver.url)
    customer = CustomerFactory(external_id="acme", currency="USD")
    plan = PlanFactory(code="pro")
    at = timezone.now()

    with pytest.raises(RuntimeError), transaction.atomic():
        subscription_create(customer=customer, plan=plan, started_at=at, at=at)
        assert WebhookMessage.objects.count() == 1  # written with the change...
        raise RuntimeError("the request failed after the service")

    assert not Subscription.objects.exists()
    assert not WebhookMessage.objects.exists()  # ...and gone with it
    assert receiver.requests == []

    # The same change committed is announced (on commit, by the django-q2 task).
    subscription = subscription_create(customer=customer, plan=plan, started_at=at, at=at)
    subscription_cancel(subscription=subscription, at_period_end=True, at=at)
    types = [json.loads(r["body"])["type"] for r in receiver.requests]
    assert types == ["subscription.created", "subscription.canceled"]


def test_a_finalized_invoice_is_announced(db, receiver, django_capture_on_commit_callbacks):
    from invoices.services import invoice_finalize
    from tests.invoices.helpers import customer as make_customer
    from tests.invoices.helpers import pro_plan, send, subscribe, utc

    endpoint = webhook_endpoint_create(url=receiver.url, event_types=["invoice.finalized"])
    subscribe(
        make_customer("acme", invoice_grace_period_hours=48), pro_plan(), started_at=utc(2026, 3, 1)
    )
    send("acme", "api_call", utc(2026, 3, 2), count=10)
    from invoices.services import cycles_close

    cycles_close(at=utc(2026, 4, 1))
    draft = Subscription.objects.get().invoices.get()
    with django_capture_on_commit_callbacks(execute=True):
        invoice_finalize(invoice=draft, at=utc(2026, 4, 1, 9))
    payload = verify(receiver.requests[-1], endpoint.secret)
    assert payload["type"] == "invoice.finalized"
    assert payload["data"]["number"] == "INV-2026-000001"
    assert payload["data"]["total"] == "29.10"
    assert payload["data"]["customer"] == "acme"


def test_endpoints_are_added_in_the_admin_with_a_secret(admin_client, db):
    form = {"event_types": ["invoice.finalized"], "is_active": "on"}
    response = admin_client.post(
        "/admin/notifications/webhookendpoint/add/", {**form, "url": "ftp://example.com/hooks"}
    )
    assert response.status_code == 200
    assert "Give an absolute http:// or https:// URL." in response.content.decode()

    response = admin_client.post(
        "/admin/notifications/webhookendpoint/add/",
        {
            "url": "https://example.com/hooks",
            "event_types": ["invoice.finalized"],
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    from notifications.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_") and endpoint.event_types == ["invoice.finalized"]
    page = admin_client.get(f"/admin/notifications/webhookendpoint/{endpoint.pk}/change/")
    assert endpoint.secret in page.content.decode()


def test_a_paid_invoice_is_announced_with_its_payments_figures(
    api_client, receiver, django_capture_on_commit_callbacks
):
    from tests.factories import FinalizedInvoiceFactory

    invoice = FinalizedInvoiceFactory(amount_due=Decimal("1600.00"), total=Decimal("1600.00"))
    endpoint = webhook_endpoint_create(url=receiver.url, event_types=["invoice.paid"])

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            f"/api/v1/invoices/{invoice.pk}/payments",
            {"amount": "1600.00", "method": "bank_transfer"},
            format="json",
        )
    assert response.status_code == 201, response.json()

    [request] = receiver.requests
    payload = verify(request, endpoint.secret)
    assert payload["type"] == "invoice.paid"
    assert (payload["data"]["id"], payload["data"]["status"]) == (invoice.pk, "paid")
    assert payload["data"]["amount_due"] == "1600.00"
