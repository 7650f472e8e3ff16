"""Statements compiled once and run again with other values (billing.compiled): each call
answers for its own values, exactly as the ORM would."""

import pytest
from django.db.models import Count, Q

from billing.compiled import Aggregated, compiled_aggregate, compiled_instances, compiled_rows
from customers.models import Customer
from metering.models import Event
from tests.invoices.helpers import customer, send, utc

pytestmark = pytest.mark.django_db


def test_a_compiled_read_answers_each_calls_values():
    customer("acme", name="Acme")
    customer("globex", name="Globex")

    def names(external_id):
        return compiled_rows(
            key=("test names",),
            build=lambda values: Customer.objects.filter(external_id=values[0]).values_list(
                "name", "created_at"
            ),
            values=[external_id],
        )

    assert [name for name, _ in names("acme")] == ["Acme"]
    assert [name for name, _ in names("globex")] == ["Globex"]
    assert names("nobody") == []
    (_, created), *_ = names("acme")
    assert created == Customer.objects.get(external_id="acme").created_at  # aware, converted


def test_a_value_the_orm_rewrites_is_compiled_each_time():
    customer("acme")
    customer("globex")

    def starting(prefix):
        return compiled_rows(
            key=("test prefixes",),
            # startswith binds 'ac%': not the value itself, so never cached.
            build=lambda values: (
                Customer.objects.filter(external_id__startswith=values[0])
                .values_list("external_id")
                .order_by("external_id")
            ),
            values=[prefix],
        )

    assert starting("ac") == [("acme",)]
    assert starting("gl") == [("globex",)]


def test_instances_and_aggregates_per_call():
    customer("acme")
    customer("globex")
    send("acme", "api_call", utc(2026, 3, 1, 10), count=3)
    send("globex", "api_call", utc(2026, 3, 1, 11), count=2)

    def one(external_id):
        return compiled_instances(
            key=("test customer",),
            build=lambda values: Customer.objects.filter(external_id=values[0]),
            values=[external_id],
        )

    def calls(external_id, start, end):
        return compiled_aggregate(
            key=("test calls",),
            build=lambda values: Aggregated(
                Event.objects.filter(external_customer_id=values[0]),
                {"n": Count("id", filter=Q(timestamp__gte=values[1], timestamp__lt=values[2]))},
            ),
            values=[external_id, start, end],
        )

    assert [found.external_id for found in one("globex")] == ["globex"]
    assert one("acme")[0] == Customer.objects.get(external_id="acme")
    assert calls("acme", utc(2026, 3, 1), utc(2026, 3, 2)) == {"n": 3}
    assert calls("globex", utc(2026, 3, 1), utc(2026, 3, 2)) == {"n": 2}
    assert calls("acme", utc(2026, 3, 1, 11), utc(2026, 3, 2)) == {"n": 0}
