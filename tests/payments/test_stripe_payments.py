"""Invoices paid through Stripe (localstripe behind the real SDK): the off-session attempt at
finalization, webhooks, dunning, idempotency keys, refunds and Checkout from the hosted page."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from invoices.documents import invoice_hosted_url
from invoices.models import Invoice
from payments.models import Payment, Refund, StripeCustomer, WebhookDelivery
from payments.services import payments_retry_due
from tests.factories import CustomerFactory
from tests.payments.conftest import deliver, signed, stripe_event, stripe_get, stripe_post
from tests.payments.helpers import DECLINED_CARD, GOOD_CARD, issued_invoice, saved_card

pytestmark = [pytest.mark.localstripe, pytest.mark.django_db(transaction=True)]

INTENTS = "/v1/payment_intents"


def invoice_shape(api_client, invoice) -> dict:
    return api_client.get(f"/api/v1/invoices/{invoice.pk}").json()


def test_finalization_charges_the_saved_card_and_the_invoice_is_paid(stripe_on, api_client):
    customer = CustomerFactory()
    saved_card(customer)

    invoice = issued_invoice(customer=customer, amount="120.00")

    payment = Payment.objects.get(invoice=invoice)
    assert (payment.gateway, payment.status, payment.attempt) == ("stripe", "succeeded", 1)
    assert payment.provider_amount == 12000
    body = invoice_shape(api_client, invoice)
    assert body["status"] == "paid"
    assert (body["amount_paid"], body["amount_remaining"]) == ("120.00", "0.00")
    assert body["payment_status"] == "paid"
    assert body["paid_at"] is not None
    assert stripe_on.keys(INTENTS) == [f"invoice:{invoice.pk}:attempt:1"]


def test_a_lost_answer_is_settled_by_the_webhook_and_replays_change_nothing(
    stripe_on, client, api_client
):
    """Stripe charged, but its answer never came back: the attempt stays pending until
    payment_intent.succeeded arrives; delivering it again changes nothing."""
    customer = CustomerFactory()
    saved = saved_card(customer)
    stripe_on.refuse_next[INTENTS] = 1  # the attempt at finalization gets no answer

    invoice = issued_invoice(customer=customer, amount="80.00")
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.status, payment.stripe_payment_intent_id) == ("pending", None)
    assert invoice_shape(api_client, invoice)["status"] == "finalized"

    # What Stripe did with the request (same key, same metadata), then its webhook.
    intent = stripe_post(
        stripe_on,
        INTENTS,
        {
            "amount": "8000",
            "currency": "usd",
            "customer": saved.stripe_customer_id,
            "payment_method": saved.default_payment_method_id,
            "confirm": "true",
            "off_session": "true",
            "metadata[tally_payment_id]": str(payment.pk),
            "metadata[tally_invoice_id]": str(invoice.pk),
        },
    )
    event = stripe_event(
        "payment_intent.succeeded", stripe_get(stripe_on, f"{INTENTS}/{intent['id']}")
    )
    response = deliver(client, event)

    assert response.status_code == 200
    body = invoice_shape(api_client, invoice)
    assert (body["status"], body["amount_remaining"], body["payment_status"]) == (
        "paid",
        "0.00",
        "paid",
    )
    payment.refresh_from_db()
    assert (payment.status, payment.stripe_payment_intent_id) == ("succeeded", intent["id"])

    # The same event again, and a late failure of the same intent: nothing changes.
    assert deliver(client, event).status_code == 200
    failed = stripe_event("payment_intent.payment_failed", {**event["data"]["object"]})
    assert deliver(client, failed).status_code == 200
    assert Payment.objects.filter(invoice=invoice).count() == 1
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert WebhookDelivery.objects.filter(event_id=event["id"]).count() == 2
    replay = WebhookDelivery.objects.filter(event_id=event["id"]).order_by("pk").last()
    assert replay.outcome.startswith("replay")
    assert invoice_shape(api_client, invoice)["amount_paid"] == "80.00"


def test_a_forged_signature_is_refused_and_kept(stripe_on, client, admin_client):
    event = stripe_event("payment_intent.succeeded", {"id": "pi_forged", "metadata": {}})
    body = b'{"id": "evt_forged"}'
    forged = signed(body, secret="whsec_someone_else")

    response = deliver(client, event, signature=forged)

    assert response.status_code == 400
    assert "signature" in response.json()["detail"].lower()
    delivery = WebhookDelivery.objects.get()
    assert delivery.valid is False and delivery.processed_at is None
    assert '"pi_forged"' in delivery.body
    assert delivery.headers["Stripe-Signature"] == forged
    page = admin_client.get("/admin/payments/webhookdelivery/")
    assert page.status_code == 200 and "Bad signature" in page.content.decode()


def test_a_declined_card_is_retried_on_schedule_then_uncollectible_with_emails(
    stripe_on, api_client, client
):
    customer = CustomerFactory(email="ap@declined.example")
    saved_card(customer, DECLINED_CARD)
    first = timezone.now()

    invoice = issued_invoice(customer=customer, amount="50.00", at=first)

    failed = Payment.objects.get(invoice=invoice)
    assert (failed.status, failed.failure_code) == ("failed", "card_declined")
    assert [m.to for m in mail.outbox if "failed" in m.subject] == [["ap@declined.example"]]
    first_failure = failed.settled_at
    assert "try your saved payment method again" in mail.outbox[-1].body
    link = re.search(r"http://testserver(/i/\S+/)", mail.outbox[-1].body).group(1)
    assert client.get(link).context["doc"].number == invoice.number  # the hosted page link

    # Not due yet half a day later; then retries 1, 3 and 7 days after the first failure.
    assert payments_retry_due(at=first_failure + timedelta(hours=12)) == []
    for days in (1, 3, 7):
        call_command("retry_payments", at=(first_failure + timedelta(days=days)).isoformat())
    attempts = list(Payment.objects.filter(invoice=invoice).order_by("attempt"))
    assert [(p.attempt, p.status) for p in attempts] == [
        (1, "failed"),
        (2, "failed"),
        (3, "failed"),
        (4, "failed"),
    ]
    assert stripe_on.keys(INTENTS) == [f"invoice:{invoice.pk}:attempt:{n}" for n in (1, 2, 3, 4)]
    body = invoice_shape(api_client, invoice)
    assert (body["status"], body["amount_remaining"]) == ("uncollectible", "50.00")
    failure_emails = [m for m in mail.outbox if "failed" in m.subject]
    assert len(failure_emails) == 4
    assert "will not try your saved payment method again" in failure_emails[-1].body
    # Nothing more is retried.
    assert payments_retry_due(at=first_failure + timedelta(days=30)) == []


def test_idempotency_keys_are_stable_across_retries_of_one_attempt(stripe_on):
    customer = CustomerFactory()
    saved_card(customer)
    stripe_on.refuse_next[INTENTS] = 2

    invoice = issued_invoice(customer=customer, amount="10.00")
    payment = Payment.objects.get(invoice=invoice)
    later = timezone.now() + timedelta(minutes=11)
    payments_retry_due(at=later)  # refused again
    payments_retry_due(at=later)  # answered

    key = f"invoice:{invoice.pk}:attempt:1"
    assert stripe_on.keys(INTENTS) == [key, key, key]
    payment.refresh_from_db()
    assert (payment.status, payment.idempotency_key) == ("succeeded", key)
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_refunds_partial_then_full_through_stripe_and_the_webhook_adds_nothing(
    stripe_on, client, api_client
):
    customer = CustomerFactory()
    saved_card(customer)
    invoice = issued_invoice(customer=customer, amount="100.00")
    payment = Payment.objects.get(invoice=invoice)

    partial = api_client.post(
        f"/api/v1/payments/{payment.pk}/refund", {"amount": "30.00"}, format="json"
    )
    assert partial.status_code == 201, partial.json()
    assert (partial.json()["status"], partial.json()["amount_refunded"]) == (
        "partially_refunded",
        "30.00",
    )
    too_much = api_client.post(
        f"/api/v1/payments/{payment.pk}/refund", {"amount": "70.01"}, format="json"
    )
    assert too_much.status_code == 400
    assert "left to refund" in str(too_much.json())
    rest = api_client.post(f"/api/v1/payments/{payment.pk}/refund", {}, format="json")
    assert (rest.json()["status"], rest.json()["amount_refunded"]) == ("refunded", "100.00")

    refunds = list(Refund.objects.filter(payment=payment).order_by("pk"))
    assert [(r.amount, r.provider_amount) for r in refunds] == [
        (Decimal("30.00"), 3000),
        (Decimal("70.00"), 7000),
    ]
    charge = stripe_get(stripe_on, f"/v1/charges/{payment.stripe_charge_id}")
    assert charge["amount_refunded"] == 10000
    assert deliver(client, stripe_event("charge.refunded", charge)).status_code == 200
    assert Refund.objects.filter(payment=payment).count() == 2
    assert invoice_shape(api_client, invoice)["amount_paid"] == "0.00"


def test_a_refund_made_in_stripes_dashboard_arrives_by_webhook(stripe_on, client):
    customer = CustomerFactory()
    saved_card(customer)
    invoice = issued_invoice(customer=customer, amount="40.00")
    payment = Payment.objects.get(invoice=invoice)
    stripe_post(
        stripe_on,
        "/v1/refunds",
        {"payment_intent": payment.stripe_payment_intent_id, "amount": "1500"},
    )
    charge = stripe_get(stripe_on, f"/v1/charges/{payment.stripe_charge_id}")
    charge["refunds"] = {
        "data": [
            stripe_get(stripe_on, f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}")[
                "data"
            ][0]
        ]
    }

    deliver(client, stripe_event("charge.refunded", charge))
    deliver(client, stripe_event("charge.refunded", charge))  # a second event for it

    payment.refresh_from_db()
    assert payment.status == "partially_refunded"
    assert [r.amount for r in Refund.objects.filter(payment=payment)] == [Decimal("15.00")]


def test_pay_now_from_the_hosted_page_goes_to_checkout_and_its_webhooks_settle_once(
    stripe_on, client, api_client
):
    customer = CustomerFactory()
    invoice = issued_invoice(customer=customer, amount="25.50")
    token_path = invoice_hosted_url(invoice=invoice).removeprefix("http://testserver")
    page = client.get(token_path).content.decode()
    assert "Pay now" in page

    response = client.post(f"{token_path}pay")

    assert response.status_code == 302
    session = stripe_on.sessions[response["Location"].rsplit("/", 1)[-1]]
    assert response["Location"] == session["url"]
    assert (session["mode"], session["amount_total"], session["currency"]) == (
        "payment",
        2550,
        "usd",
    )
    assert session["customer"] == StripeCustomer.objects.get(customer=customer).stripe_customer_id
    # The customer pays on Stripe's page; Stripe sends both events, in either order.
    completed = {
        **session,
        "payment_status": "paid",
        "status": "complete",
        "payment_intent": "pi_checkout_1",
    }
    succeeded = {
        "id": "pi_checkout_1",
        "object": "payment_intent",
        "amount": 2550,
        "currency": "usd",
        "status": "succeeded",
        "metadata": session["metadata"],
    }
    assert deliver(client, stripe_event("checkout.session.completed", completed)).status_code == 200
    assert deliver(client, stripe_event("payment_intent.succeeded", succeeded)).status_code == 200

    payments = list(Payment.objects.filter(invoice=invoice))
    assert [(p.amount, p.status, p.stripe_payment_intent_id) for p in payments] == [
        (Decimal("25.50"), "succeeded", "pi_checkout_1")
    ]
    assert invoice_shape(api_client, invoice)["status"] == "paid"
    assert "Pay now" not in client.get(token_path).content.decode()


def test_a_card_saved_through_checkout_setup_is_used_for_the_open_invoice(stripe_on, client):
    customer = CustomerFactory()
    invoice = issued_invoice(customer=customer, amount="60.00")
    assert Payment.objects.filter(invoice=invoice).count() == 0  # nothing saved yet
    token_path = invoice_hosted_url(invoice=invoice).removeprefix("http://testserver")

    response = client.post(f"{token_path}save-card")

    session = stripe_on.sessions[response["Location"].rsplit("/", 1)[-1]]
    assert session["mode"] == "setup"
    # The customer enters a card on Stripe's page: a confirmed SetupIntent with its method.
    method = stripe_post(
        stripe_on,
        "/v1/payment_methods",
        {
            "type": "card",
            "card[number]": GOOD_CARD,
            "card[exp_month]": "12",
            "card[exp_year]": "2040",
            "card[cvc]": "123",
        },
    )
    stripe_post(
        stripe_on, f"/v1/payment_methods/{method['id']}/attach", {"customer": session["customer"]}
    )
    setup = stripe_post(stripe_on, "/v1/setup_intents", {"customer": session["customer"]})
    stripe_post(
        stripe_on, f"/v1/setup_intents/{setup['id']}/confirm", {"payment_method": method["id"]}
    )
    completed = {**session, "status": "complete", "setup_intent": setup["id"]}

    assert deliver(client, stripe_event("checkout.session.completed", completed)).status_code == 200

    assert StripeCustomer.objects.get(customer=customer).default_payment_method_id == method["id"]
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.status, payment.amount) == ("succeeded", Decimal("60.00"))
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"


@pytest.mark.parametrize(
    ("currency", "amount", "sent"),
    [("JPY", "1500", 1500), ("KWD", "12.345", 12350), ("USD", "12.34", 1234)],
)
def test_amounts_reach_stripe_in_its_minor_units(stripe_on, currency, amount, sent):
    customer = CustomerFactory(currency=currency)
    saved_card(customer)

    invoice = issued_invoice(customer=customer, amount=amount, currency=currency)

    payment = Payment.objects.get(invoice=invoice)
    intent = stripe_get(stripe_on, f"{INTENTS}/{payment.stripe_payment_intent_id}")
    assert (intent["amount"], intent["currency"]) == (sent, currency.lower())
    assert payment.amount == Decimal(amount)
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"


def test_retry_now_in_the_admin_charges_a_card_saved_after_finalization(stripe_on, admin_client):
    customer = CustomerFactory()
    invoice = issued_invoice(customer=customer, amount="30.00")
    page = admin_client.get(f"/admin/invoices/invoice/{invoice.pk}/change/").content.decode()
    assert "Retry now" in page and "The Stripe gateway is off" not in page
    saved_card(customer)

    response = admin_client.post(f"/admin/invoices/invoice/{invoice.pk}/retry-payment/")

    assert response.status_code == 302
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    assert stripe_on.keys(INTENTS) == [f"invoice:{invoice.pk}:attempt:1"]


def test_pay_through_the_api_reports_a_decline(stripe_on, api_client):
    customer = CustomerFactory()
    invoice = issued_invoice(customer=customer, amount="30.00")  # no card yet: nothing tried
    assert api_client.post(f"/api/v1/invoices/{invoice.pk}/pay").status_code == 409
    saved_card(customer, DECLINED_CARD)

    response = api_client.post(f"/api/v1/invoices/{invoice.pk}/pay")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["failure_code"], body["attempt"]) == ("failed", "card_declined", 1)
    assert invoice_shape(api_client, invoice)["payment_status"] == "unpaid"


def test_without_a_webhook_secret_every_delivery_is_refused_and_kept(stripe_on, client, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = deliver(client, stripe_event("payment_intent.succeeded", {"id": "pi_x"}))
    assert response.status_code == 400
    assert "STRIPE_WEBHOOK_SECRET" in response.json()["detail"]
    assert WebhookDelivery.objects.get().valid is False


def test_an_attempt_whose_webhook_never_came_is_settled_by_the_retry_run(stripe_on, api_client):
    customer = CustomerFactory()
    saved = saved_card(customer)
    stripe_on.refuse_next[INTENTS] = 1
    invoice = issued_invoice(customer=customer, amount="15.00")
    payment = Payment.objects.get(invoice=invoice)
    # Stripe took the attempt and answered "processing"; its webhook is lost.
    intent = stripe_post(
        stripe_on,
        INTENTS,
        {
            "amount": "1500",
            "currency": "usd",
            "customer": saved.stripe_customer_id,
            "payment_method": saved.default_payment_method_id,
            "confirm": "true",
            "off_session": "true",
        },
    )
    Payment.objects.filter(pk=payment.pk).update(stripe_payment_intent_id=intent["id"])
    assert payments_retry_due(at=timezone.now()) == []  # too early to ask

    payments_retry_due(at=timezone.now() + timedelta(minutes=11))

    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert invoice_shape(api_client, invoice)["status"] == "paid"
    assert stripe_on.keys(INTENTS) == [f"invoice:{invoice.pk}:attempt:1"]  # nothing charged again


def test_a_credit_purchase_charged_through_stripe_lands_its_credits(
    stripe_on, api_client, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(external_id="buyer", currency="USD")
    saved_card(customer)

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/v1/customers/buyer/wallet/transactions",
            {"kind": "purchase", "amount": "75.00", "reason": "top-up"},
            format="json",
        )

    assert response.status_code == 201, response.json()
    invoice = Invoice.objects.get(pk=response.json()["id"])
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.gateway, payment.status, payment.provider_amount) == (
        "stripe",
        "succeeded",
        7500,
    )
    assert invoice_shape(api_client, invoice)["status"] == "paid"
    wallet = api_client.get("/api/v1/customers/buyer/wallet").json()
    assert wallet["balance"] == "75.00"
