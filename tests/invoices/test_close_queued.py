"""Issue 14: the cycle close fans out as django-q2 tasks, so adding worker machines shortens it.

The scheduled close queues its due subscriptions in tasks of CLOSE_TASK_BATCH; any worker of
any cluster on the broker takes them. Two closers and two clusters on one Redis still issue
every invoice once, numbered without gaps.
"""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import Task
from django_q.tasks import async_task, fetch

from invoices.models import Invoice
from invoices.tasks import close_batch_task
from tests.invoices.helpers import customer, plan, send, subscribe, utc

ROOT = Path(__file__).resolve().parents[2]
BATCH_TASK = "invoices.tasks.close_batch_task"


def monthly_plan():
    return plan(
        "monthly",
        base_amount="10.00",
        base_timing="in_arrears",
        charges=[{"meter": "api_calls", "model": "per_unit", "unit_amount": "0.01"}],
    )


@pytest.mark.django_db
def test_the_scheduled_close_queues_batches_that_issue_every_invoice(settings):
    settings.CLOSE_TASK_BATCH = 2
    this_month = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    monthly = monthly_plan()
    for index in range(5):
        subscribe(customer(f"c{index}"), monthly, started_at=last_month, at=this_month)
    send("c3", "api_call", last_month + timedelta(days=2), count=100, at=this_month)

    task_id = async_task("invoices.tasks.close_cycles_task", sync=True)

    assert "5 subscription(s) queued in 3 task(s)" in fetch(task_id).result
    batches = Task.objects.filter(func=BATCH_TASK)
    assert batches.count() == 3 and all(task.success for task in batches)
    assert sorted(Invoice.objects.values_list("number", flat=True)) == [
        f"INV-{this_month:%Y}-{n:06d}" for n in range(1, 6)
    ]
    assert Invoice.objects.get(customer__external_id="c3").total == 11


@pytest.mark.django_db
def test_a_batch_queued_twice_issues_nothing_the_second_time():
    monthly = monthly_plan()
    ids = [
        subscribe(customer(f"c{index}"), monthly, started_at=utc(2026, 3, 1)).pk
        for index in range(3)
    ]

    first = close_batch_task(ids, utc(2026, 4, 1))
    second = close_batch_task(ids, utc(2026, 4, 1))

    assert "3 invoice(s) created, 3 finalized" in first
    assert "0 invoice(s) created" in second and "0 error(s)" in second
    assert Invoice.objects.count() == 3


def _environment(queue_name: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "Q_REDIS_URL", "Q_SYNC"}
    }
    database = connection.settings_dict
    env.update(
        DJANGO_SETTINGS_MODULE="billing.settings",
        DATABASE_URL=(
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        ),
        Q_REDIS_URL="redis://127.0.0.1:6379/11",  # a Redis database no other test uses
        Q_NAME=queue_name,
        Q_WORKERS="1",
        CLOSE_TASK_BATCH="5",
    )
    return env


def _redis_or_skip(env: dict[str, str]) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import redis,os; redis.from_url(os.environ['Q_REDIS_URL']).ping()"],
        env=env,
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.skip("Redis not reachable at 127.0.0.1:6379")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_closers_and_two_clusters_on_one_redis_bill_every_period_once():
    monthly = monthly_plan()
    for index in range(40):
        subscribe(customer(f"c{index}"), monthly, started_at=utc(2026, 1, 1), at=utc(2026, 4, 2))
    send("c7", "api_call", utc(2026, 2, 3), count=100, at=utc(2026, 4, 2))
    env = _environment(f"tally-test-close-{uuid.uuid4().hex[:8]}")
    _redis_or_skip(env)
    clusters = [
        subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        closers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "close_cycles",
                    "--queue",
                    "--at",
                    "2026-04-02T00:00Z",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [closer.communicate(timeout=120) for closer in closers]
        assert all(closer.returncode == 0 for closer in closers), outputs
        queued = [re.search(r"queued in (\d+) task", out) for out, _ in outputs]
        assert queued[0] or queued[1], outputs  # at least one closer fanned out
        tasks = sum(int(match.group(1)) for match in queued if match)
        # A bound on waiting for the clusters, not a timing assertion.
        deadline = time.monotonic() + 180
        while Task.objects.filter(func=BATCH_TASK).count() < tasks:
            assert all(cluster.poll() is None for cluster in clusters), "a cluster died"
            assert time.monotonic() < deadline, "the clusters did not finish the batches"
            time.sleep(0.2)
    finally:
        for cluster in clusters:
            _stop(cluster)
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import redis,os; redis.from_url(os.environ['Q_REDIS_URL'])"
                ".delete('django_q:' + os.environ['Q_NAME'] + ':q')",
            ],
            env=env,
            check=False,
        )

    batches = Task.objects.filter(func=BATCH_TASK)
    assert all(task.success for task in batches), [task.result for task in batches]
    assert batches.count() == tasks
    assert Invoice.objects.count() == 120  # 40 × January..March
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 121)]
    periods = set(Invoice.objects.values_list("subscription_id", "period_start"))
    assert len(periods) == 120
    assert Invoice.objects.get(customer__external_id="c7", period_start=utc(2026, 2, 1)).total == 11
