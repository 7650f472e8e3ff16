"""Two operators changing the same plan in use at once get two versions, never a clash."""

import threading
import time

import pytest
from django.db import connection, transaction

from catalog.models import Plan
from catalog.selectors import plan_latest
from catalog.services import plan_update


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_of_a_frozen_plan_make_consecutive_versions(demo_catalog, put_in_use):
    growth = plan_latest(code="growth")
    put_in_use(growth)
    held, release = threading.Event(), threading.Event()
    failures = []

    def hold_the_versions():
        # Both changes queue up behind this lock, so they really run at the same time.
        with transaction.atomic():
            list(Plan.objects.select_for_update().filter(code="growth"))
            held.set()
            release.wait(10)
        connection.close()

    def change(name):
        try:
            plan_update(plan=growth, name=name)
        except Exception as error:  # noqa: BLE001 — reported below
            failures.append(error)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_versions)
    holder.start()
    held.wait(10)
    workers = [threading.Thread(target=change, args=(f"Growth {n}",)) for n in (1, 2)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)
    release.set()
    for thread in [holder, *workers]:
        thread.join()

    assert failures == []
    versions = Plan.objects.filter(code="growth").order_by("version")
    assert [p.version for p in versions] == [1, 2, 3]
    assert {p.name for p in versions[1:]} == {"Growth 1", "Growth 2"}
