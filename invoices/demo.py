"""Demo data for the invoices app, loaded by `manage.py seed_demo` (idempotent).

Runs the cycle close, at `at`, for the demo customers' subscriptions: every invoice already due
(opening fees in advance, periods that ended, on-demand windows) is issued, so the admin shows
invoices. Running it again issues nothing more: the close itself is idempotent.
"""

from datetime import datetime

from customers.demo import DEMO_CUSTOMERS
from customers.models import Subscription
from invoices.services import subscription_bill_due, subscription_bill_on_demand
from invoices.services.inputs import BuildContext


def seed(*, at: datetime) -> str:
    """Issue the demo customers' invoices due at `at`; say how many."""
    external_ids = [fields["external_id"] for fields in DEMO_CUSTOMERS]
    ctx = BuildContext()
    issued = []
    subscriptions = Subscription.objects.filter(customer__external_id__in=external_ids).order_by(
        "pk"
    )
    for subscription_id in subscriptions.values_list("pk", flat=True):
        issued += subscription_bill_due(subscription_id=subscription_id, at=at, ctx=ctx)
        issued += subscription_bill_on_demand(subscription_id=subscription_id, at=at, ctx=ctx)
    numbers = [invoice.number or f"draft #{invoice.pk}" for invoice in issued]
    return f"Invoices: {len(issued)} issued ({', '.join(numbers) or 'none due'})."
