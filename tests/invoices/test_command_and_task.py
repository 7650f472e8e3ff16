"""close_cycles (command) and the every-minute django-q2 schedule run the same cycle close."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_q.models import Schedule
from django_q.tasks import async_task, fetch

from invoices.models import Invoice
from tests.invoices.helpers import customer, pro_plan, send, subscribe, utc

pytestmark = pytest.mark.django_db


def test_close_cycles_command_prints_each_invoice_and_a_summary():
    subscribe(customer("acme"), pro_plan(), started_at=utc(2026, 3, 1))
    send("acme", "api_call", utc(2026, 3, 3), count=100)
    output = StringIO()

    call_command("close_cycles", "--at", "2026-04-01T00:05:00+00:00", stdout=output)

    text = output.getvalue()
    assert "INV-2026-000001" in text and "acme" in text and "$30.00" in text
    assert "1 invoice(s) created, 1 finalized" in text
    assert Invoice.objects.get().issued_at == utc(2026, 4, 1, 0, 5)


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("yesterday", "is not an ISO 8601 date and time"),
        ("2026-04-01T00:00:00", "needs a UTC offset"),
    ],
)
def test_close_cycles_refuses_a_bad_moment(argument, message):
    with pytest.raises(CommandError, match=message):
        call_command("close_cycles", "--at", argument)


def test_close_cycles_refuses_zero_workers():
    with pytest.raises(CommandError, match="--workers must be 1 or more"):
        call_command("close_cycles", "--workers", "0")


def test_setup_schedules_creates_the_every_minute_close_once():
    call_command("setup_schedules", stdout=StringIO())
    call_command("setup_schedules", stdout=StringIO())

    schedule = Schedule.objects.get(name="close-cycles")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "invoices.tasks.close_cycles_task",
        Schedule.MINUTES,
        1,
    )
    assert Schedule.objects.filter(name="close-cycles").count() == 1


def test_the_scheduled_task_closes_the_due_periods():
    subscribe(customer("acme"), pro_plan(), started_at=utc(2025, 1, 1), at=utc(2025, 2, 2))

    task_id = async_task("invoices.tasks.close_cycles_task", sync=True)

    task = fetch(task_id)
    assert task.success, task.result
    assert "invoice(s) created" in task.result
    assert Invoice.objects.filter(customer__external_id="acme").exists()
