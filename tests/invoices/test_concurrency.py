"""Two cycle closes at once (PostgreSQL): one invoice per subscription and period, numbers
gapless; the unique constraint refuses a second invoice for a period."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from invoices.models import Invoice
from invoices.services import cycles_close, invoice_finalize
from tests.invoices.helpers import customer, plan, pro_plan, send, subscribe, utc


def run_at_once(target, count: int = 2) -> list:
    barrier = threading.Barrier(count)
    outcomes, errors = [], []

    def worker():
        try:
            barrier.wait()
            outcomes.append(target())
        except Exception as error:  # surfaced in the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_closers_at_once_issue_each_invoice_once_with_gapless_numbers():
    pro = pro_plan()
    for index in range(6):
        external_id = f"customer-{index}"
        subscribe(customer(external_id), pro, started_at=utc(2026, 1, 1), at=utc(2026, 4, 2))
        send(external_id, "api_call", utc(2026, 2, 2), count=index + 1, at=utc(2026, 4, 2))

    reports = run_at_once(lambda: cycles_close(at=utc(2026, 4, 2)))

    assert sum(len(report.created) for report in reports) == 18  # 6 × January..March
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 19)]
    periods = Invoice.objects.values_list("subscription_id", "period_start")
    assert len(set(periods)) == 18
    assert all(invoice.lines.count() == 4 for invoice in Invoice.objects.all())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_finalizations_at_once_take_consecutive_numbers():
    monthly = plan(
        "monthly",
        base_amount="10.00",
        base_timing="in_arrears",
        charges=[{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.01"}],
    )
    for external_id in ("a", "b"):
        subscribe(
            customer(external_id, invoice_grace_period_hours=24),
            monthly,
            started_at=utc(2026, 3, 1),
        )
    cycles_close(at=utc(2026, 4, 1))
    drafts = list(Invoice.objects.filter(status="draft").order_by("pk"))
    assert len(drafts) == 2
    iterator = iter(drafts)
    lock = threading.Lock()

    def finalize_one():
        with lock:
            draft = next(iterator)
        return invoice_finalize(invoice=draft, at=utc(2026, 4, 1, 12)).number

    numbers = run_at_once(finalize_one)

    assert sorted(numbers) == ["INV-2026-000001", "INV-2026-000002"]


@pytest.mark.django_db
def test_the_unique_constraint_refuses_a_second_invoice_for_a_period():
    subscription = subscribe(customer("acme"), pro_plan(), started_at=utc(2026, 3, 1))
    cycles_close(at=utc(2026, 4, 1))
    existing = Invoice.objects.get()

    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(
            customer=existing.customer,
            subscription=subscription,
            kind="subscription",
            currency="USD",
            period_start=existing.period_start,
            period_end=existing.period_end,
        )
    assert Invoice.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_worker_processes_share_the_close_and_issue_each_invoice_once(monkeypatch):
    # Batches of 50 closed together (the forked workers inherit it): two per worker.
    monkeypatch.setattr("invoices.services.cycles.WRITE_BATCH", 50)
    monthly = plan(
        "monthly",
        base_amount="10.00",
        base_timing="in_arrears",
        charges=[{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.01"}],
    )
    for index in range(105):
        subscribe(customer(f"c{index}"), monthly, started_at=utc(2026, 3, 1), at=utc(2026, 4, 1))
    send("c7", "api_call", utc(2026, 3, 3), count=100, at=utc(2026, 4, 1))

    report = cycles_close(at=utc(2026, 4, 1), workers=2)

    assert report.errors == [] and len(report.created) == 105
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 106)]
    assert Invoice.objects.get(customer__external_id="c7").total == 11
    assert Invoice.objects.filter(total=10).count() == 104
