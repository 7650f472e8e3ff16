"""Wallets: credits granted once per source key, spent at finalization in the stated order
across several grants and invoices, partly, expired with a balance left, never twice at once."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import transaction

from billing.errors import AppError
from customers.models import WalletTransaction
from customers.selectors import wallet_balance
from customers.services.wallets import (
    wallet_consume,
    wallet_credit,
    wallet_for,
    wallets_expire,
)
from invoices.models import Invoice
from invoices.services import cycles_close, invoice_finalize
from tests.invoices.helpers import customer, plan, subscribe, utc
from tests.invoices.test_concurrency import run_at_once

pytestmark = pytest.mark.django_db


def monthly(base_amount: str = "10.00"):
    return plan("monthly", base_amount=base_amount, base_timing="in_arrears")


def grant(acme, amount: str, key: str, **fields):
    return wallet_credit(
        customer=acme,
        currency="USD",
        amount=Decimal(amount),
        reason="test",
        source_key=key,
        at=fields.pop("at", utc(2026, 1, 1)),
        **fields,
    )


def test_a_credit_is_granted_once_per_source_key():
    acme = customer()
    first = grant(acme, "25.00", "credit_note:7")
    again = grant(acme, "25.00", "credit_note:7")

    assert again.pk == first.pk
    wallet = wallet_for(customer=acme, currency="USD")
    assert wallet_balance(wallet=wallet) == Decimal("25.00")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "1000000000.01"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"priority": -1}, "priority"),
        ({"priority": 1001}, "priority"),
        ({"expires_at": utc(2025, 12, 31)}, "expires_at"),
        ({"expires_at": utc(2040, 1, 1)}, "expires_at"),
    ],
)
def test_a_credit_out_of_bounds_is_refused_and_writes_nothing(fields, field):
    acme = customer()
    values = {"amount": "10.00", **fields}
    amount = values.pop("amount")
    with pytest.raises(AppError) as refused:
        grant(acme, amount, "bad", **values)
    assert field in refused.value.detail
    assert not WalletTransaction.objects.exists()


def test_credits_are_spent_by_priority_then_expiry_then_age_across_invoices():
    acme = customer()
    subscribe(acme, monthly(), started_at=utc(2026, 1, 1))
    oldest = grant(acme, "5.00", "a", at=utc(2025, 12, 1))
    later_expiry = grant(acme, "3.00", "b", expires_at=utc(2026, 3, 1))
    first_priority = grant(acme, "4.00", "c", priority=10)
    early_expiry = grant(acme, "2.00", "d", expires_at=utc(2026, 2, 15))

    cycles_close(at=utc(2026, 2, 1))
    january = Invoice.objects.get(period_start=utc(2026, 1, 1))
    assert (january.status, january.total) == ("paid", Decimal("10.00"))
    assert (january.credits_applied, january.amount_due) == (Decimal("10.00"), Decimal("0"))
    spent = WalletTransaction.objects.filter(invoice_ref=january.pk).order_by("id")
    assert [(tx.credit_id, tx.amount) for tx in spent] == [
        (first_priority.pk, Decimal("-4.00")),
        (early_expiry.pk, Decimal("-2.00")),
        (later_expiry.pk, Decimal("-3.00")),
        (oldest.pk, Decimal("-1.00")),
    ]

    # February: what is left of the oldest grant (4.00) pays part of the invoice.
    cycles_close(at=utc(2026, 3, 1))
    february = Invoice.objects.get(period_start=utc(2026, 2, 1))
    assert (february.status, february.credits_applied, february.amount_due) == (
        "finalized",
        Decimal("4.00"),
        Decimal("6.00"),
    )
    wallet = wallet_for(customer=acme, currency="USD")
    assert wallet_balance(wallet=wallet) == Decimal("0")


def test_finalizing_a_draft_applies_credits_once_and_shows_them_in_the_api(api_client):
    acme = customer(invoice_grace_period_hours=24)
    subscribe(
        acme,
        plan(
            "metered",
            base_amount="10.00",
            base_timing="in_arrears",
            charges=[{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.01"}],
        ),
        started_at=utc(2026, 1, 1),
    )
    grant(acme, "7.50", "welcome")
    cycles_close(at=utc(2026, 2, 1))
    draft = Invoice.objects.get(status="draft")
    assert draft.credits_applied == Decimal("0")

    invoice_finalize(invoice=draft, at=utc(2026, 2, 2))
    with pytest.raises(AppError):
        invoice_finalize(invoice=draft, at=utc(2026, 2, 2))

    body = api_client.get(f"/api/v1/invoices/{draft.pk}").json()
    assert (body["total"], body["credits_applied"], body["amount_due"]) == (
        "10.00",
        "7.50",
        "2.50",
    )
    assert WalletTransaction.objects.filter(kind="consumption").count() == 1


def test_expiry_writes_off_the_balance_left_once():
    acme = customer()
    subscribe(acme, monthly("4.00"), started_at=utc(2026, 1, 1))
    grant(acme, "10.00", "promo", expires_at=utc(2026, 2, 15))
    cycles_close(at=utc(2026, 2, 1))  # 4.00 of it spent on January

    assert wallets_expire(at=utc(2026, 2, 14)) == 0
    assert wallets_expire(at=utc(2026, 2, 16)) == 1
    assert wallets_expire(at=utc(2026, 2, 17)) == 0

    wallet = wallet_for(customer=acme, currency="USD")
    expiry = WalletTransaction.objects.get(kind="expiry")
    assert expiry.amount == Decimal("-6.00")
    assert wallet_balance(wallet=wallet) == Decimal("0")
    cycles_close(at=utc(2026, 3, 1))
    february = Invoice.objects.get(period_start=utc(2026, 2, 1))
    assert (february.credits_applied, february.amount_due) == (Decimal("0"), Decimal("4.00"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_finalizations_at_once_never_spend_the_same_credit_twice():
    metered = plan(
        "metered",
        base_amount="10.00",
        base_timing="in_arrears",
        charges=[{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.01"}],
    )
    acme = customer("acme", invoice_grace_period_hours=24 * 60)
    subscribe(acme, metered, started_at=utc(2026, 1, 1))
    cycles_close(at=utc(2026, 2, 1))
    cycles_close(at=utc(2026, 3, 1))  # January and February, both drafts in their grace
    drafts = list(Invoice.objects.filter(status="draft").order_by("pk"))
    assert len(drafts) == 2
    grant(acme, "15.00", "welcome")
    queue = iter(drafts)
    lock = threading.Lock()

    def finalize_one():
        with lock:
            draft = next(queue)
        return invoice_finalize(invoice=draft, at=utc(2026, 3, 2))

    run_at_once(finalize_one)
    applied = sorted(Invoice.objects.values_list("credits_applied", flat=True))
    assert applied == [Decimal("5.00"), Decimal("10.00")]
    wallet = wallet_for(customer=acme, currency="USD")
    assert wallet_balance(wallet=wallet) == Decimal("0")
    assert WalletTransaction.objects.filter(kind="consumption").count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_spends_at_once_on_one_wallet_queue_on_its_lock():
    """Without the finalization's other locks: the wallet row alone keeps a credit spent once."""
    acme = customer("acme")
    grant(acme, "15.00", "welcome")
    refs = iter((101, 102))
    lock = threading.Lock()

    def spend():
        with lock:
            invoice_ref = next(refs)
        with transaction.atomic():
            wallet_consume(
                customer=acme,
                currency="USD",
                amount=Decimal("10.00"),
                invoice_ref=invoice_ref,
                at=utc(2026, 1, 2),
            )
            time.sleep(0.2)  # hold the lock while the other tries to spend

    run_at_once(spend)
    spent = WalletTransaction.objects.filter(kind="consumption")
    by_invoice = {ref: Decimal("0") for ref in (101, 102)}
    for tx in spent:
        by_invoice[tx.invoice_ref] -= tx.amount
    assert sorted(by_invoice.values()) == [Decimal("5.00"), Decimal("10.00")]
    assert wallet_balance(wallet=wallet_for(customer=acme, currency="USD")) == Decimal("0")


def test_low_balance_warns_once_per_crossing_by_email_and_webhook(
    django_capture_on_commit_callbacks,
):
    from django.core import mail

    from customers.services.wallets import wallet_update
    from notifications.models import WebhookEndpoint, WebhookMessage

    WebhookEndpoint.objects.create(url="https://hooks.example/t", secret="whsec_dGVzdA==")
    acme = customer()
    subscribe(acme, monthly("4.00"), started_at=utc(2026, 1, 1))
    with django_capture_on_commit_callbacks(execute=True):
        grant(acme, "10.00", "welcome")
        wallet = wallet_for(customer=acme, currency="USD")
        wallet_update(wallet=wallet, low_balance_threshold=Decimal("7.00"), at=utc(2026, 1, 1))
        cycles_close(at=utc(2026, 2, 1))  # 10 → 6: crosses
        cycles_close(at=utc(2026, 3, 1))  # 6 → 2: still below, no second warning
    wallet.refresh_from_db()
    assert wallet.low_balance_since == utc(2026, 2, 1)
    low = [m for m in mail.outbox if "credit balance is low" in m.subject]
    assert len(low) == 1
    assert "Your prepaid credit balance is $6.00, below the $7.00" in low[0].body
    messages = WebhookMessage.objects.filter(event_type="wallet.low_balance")
    assert messages.count() == 1
    assert '"balance":"6.00"' in messages.get().body

    with django_capture_on_commit_callbacks(execute=True):
        grant(acme, "20.00", "top-up", at=utc(2026, 3, 2))  # 22: back above, flag cleared
        wallet.refresh_from_db()
        assert wallet.low_balance_since is None
        for month in (4, 5, 6, 7):  # 22 → 18 → 14 → 10 → 6: crosses again
            cycles_close(at=utc(2026, month, 1))
    low = [m for m in mail.outbox if "credit balance is low" in m.subject]
    assert len(low) == 2
    assert WebhookMessage.objects.filter(event_type="wallet.low_balance").count() == 2
