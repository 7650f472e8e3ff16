"""django-q2 entry points of the pricing lab: thin wrappers over its services."""

from django.utils import timezone

from lab.services import backtest_run


def backtest_run_task(backtest_id: int) -> str:
    backtest = backtest_run(backtest_id=backtest_id, at=timezone.now())
    return f"backtest {backtest.pk}: {backtest.status}, {backtest.progress}%"
