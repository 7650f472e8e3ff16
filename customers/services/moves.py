"""Moving a plan's subscribers to one of its versions, each at the end of its current period
(docs/operations.md, "The console": the plan page's "Move subscribers to this version")."""

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError

from catalog.models import Plan
from customers.models import LIVE_STATUSES, Subscription
from customers.services.subscriptions import subscription_change_plan


@dataclass
class MoveReport:
    moved: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def plan_move_subscribers(*, plan: Plan, at: datetime) -> MoveReport:
    """Schedule every live subscription on another version of `plan`'s code to move to `plan`
    when its current period ends (a plan change at that period start; the period running now
    stays on its version). Safe to run twice: the pending change is replaced by the same one.
    A subscription that refuses (ended meanwhile, no current period) is reported, the others
    still move; each move is its own transaction."""
    report = MoveReport()
    others = (
        Subscription.objects.filter(plan__code=plan.code, status__in=LIVE_STATUSES)
        .exclude(plan=plan)
        .order_by("pk")
    )
    for subscription in others:
        if subscription.current_period_end is None:
            report.refused.append(f"#{subscription.pk}: every period is billed, nothing to move.")
            continue
        try:
            subscription_change_plan(
                subscription=subscription,
                plan=plan,
                at=at,
                effective_at=subscription.current_period_end,
            )
        except ValidationError as refusal:
            report.refused.append(f"#{subscription.pk}: {' '.join(refusal.messages)}")
        else:
            report.moved.append(subscription.pk)
    return report
