"""Two requests at once subscribing the same customer: exactly one subscription is created."""

import threading

import pytest
from django.db import connection

from billing.errors import AppError, ErrorKind
from customers.models import Subscription
from customers.services import subscription_create
from tests.customers.helpers import utc
from tests.factories import CustomerFactory, PlanFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_subscribes_make_one_subscription():
    customer = CustomerFactory(external_id="acme")
    plan = PlanFactory(code="pro")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def subscribe():
        try:
            barrier.wait()
            subscription_create(
                customer=customer, plan=plan, started_at=utc(2026, 1, 1), at=utc(2026, 1, 1)
            )
            outcomes.append("created")
        except AppError as refusal:
            assert refusal.kind == ErrorKind.CONFLICT
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=subscribe) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["conflict", "created"]
    assert Subscription.objects.filter(customer=customer).count() == 1
