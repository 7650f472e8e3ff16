"""Actions that write customers and subscriptions: create, update, subscribe, change, cancel."""

from customers.services.customers import EDITABLE_FIELDS, customer_create, customer_update
from customers.services.moves import MoveReport, plan_move_subscribers
from customers.services.subscriptions import (
    subscription_advance_period,
    subscription_cancel,
    subscription_change_plan,
    subscription_create,
    subscriptions_advance_periods,
)

__all__ = [
    "MoveReport",
    "plan_move_subscribers",
    "EDITABLE_FIELDS",
    "customer_create",
    "customer_update",
    "subscription_advance_period",
    "subscriptions_advance_periods",
    "subscription_cancel",
    "subscription_change_plan",
    "subscription_create",
]
