"""The customer 360 page, as a list of panels (docs/operations.md, "The console").

A panel is a template and one context function `(request, customer, at) -> dict | None`
(None: the panel is not shown, e.g. the user may not see what it holds). The page renders
CUSTOMER_PANELS in order; a panel added later (a wallet, entitlements) is one line in the list.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from catalog.currencies import money_display
from customers.models import AppliedCoupon, Customer
from customers.selectors import subscription_list
from invoices.selectors import (
    NoUpcomingInvoice,
    invoice_list,
    upcoming_invoice,
    upcoming_invoices_shared,
)
from invoices.usage import customer_usage
from metering.charts import bar_chart
from metering.links import event_drilldown_url, usage_explorer_url
from metering.models import Event
from metering.selectors import usage_series
from payments.selectors import OPEN, invoice_balances, payment_list, receivables

RECENT_INVOICES = 10
RECENT_PAYMENTS = 10
RECENT_EVENTS = 10


@dataclass(frozen=True)
class Panel:
    template: str
    context: Callable[[HttpRequest, Customer, datetime], dict | None]


def _may(request, *permissions: str) -> bool:
    return all(request.user.has_perm(permission) for permission in permissions)


def summary_panel(request, customer: Customer, at: datetime) -> dict | None:
    """What the customer owes, and what the current period has run up so far."""
    if not _may(request, "invoices.view_invoice"):
        return None
    owed = [
        {
            "currency": row.currency,
            "outstanding": money_display(row.outstanding, row.currency),
            "overdue": money_display(row.overdue, row.currency),
            "overdue_invoices": row.overdue_invoices,
        }
        for row in receivables(today=at.date(), customer_id=customer.pk)
    ]
    try:
        draft = upcoming_invoice(customer=customer, at=at)
    except NoUpcomingInvoice:
        draft = None
    return {
        "owed": owed,
        "upcoming": draft,
        "upcoming_total": money_display(draft.total, draft.currency) if draft else "",
        "upcoming_url": reverse("admin:customers_customer_upcoming_invoice", args=[customer.pk]),
    }


def subscriptions_panel(request, customer: Customer, at: datetime) -> dict | None:
    return {
        "subscriptions": subscription_list(customer_external_id=customer.external_id),
        "can_add_subscription": _may(request, "customers.add_subscription"),
        "can_change_subscription": _may(request, "customers.change_subscription"),
    }


def usage_panel(request, customer: Customer, at: datetime) -> dict | None:
    """Usage per meter in the current period, priced by the ledger, each with a small chart."""
    if not _may(request, "metering.view_event"):
        return None
    report = customer_usage(external_customer_id=customer.external_id, at=at)
    meters = []
    for entry in report.meters:
        if not entry.usage.event_count and entry.amount is None:
            continue
        start, end = entry.start, max(entry.end, entry.start + timedelta(hours=1))
        bucket = "hour" if end - start <= timedelta(days=2) else "day"
        series = usage_series(
            meter=entry.meter,
            external_customer_id=customer.external_id,
            start=start,
            end=min(end, at) if end > at > start else end,
            bucket=bucket,
        )
        window = {
            "meter": entry.meter,
            "external_customer_id": customer.external_id,
            "start": entry.start,
            "end": entry.end,
        }
        meters.append(
            {
                "meter": entry.meter,
                "usage": entry.usage,
                "amount": money_display(entry.amount, report.currency)
                if entry.amount is not None and report.currency
                else "—",
                "chart": bar_chart(
                    series, bucket=bucket, width=320, height=90, unit=entry.meter.unit
                ),
                "events_url": event_drilldown_url(**window),
                "explorer_url": usage_explorer_url(**window, bucket=bucket),
            }
        )
    return {"report": report, "meters": meters}


def invoices_panel(request, customer: Customer, at: datetime) -> dict | None:
    """The latest invoices with what each still owes, and the latest payments."""
    if not _may(request, "invoices.view_invoice"):
        return None
    recent = list(invoice_list(customer_external_id=customer.external_id)[:RECENT_INVOICES])
    balances = invoice_balances(recent)
    may_pay = _may(request, "invoices.change_invoice")
    rows = [
        {
            "invoice": invoice,
            "total": money_display(invoice.total, invoice.currency),
            "remaining": money_display(balances[invoice.pk].amount_remaining, invoice.currency),
            "record_payment_url": reverse(
                "admin:invoices_invoice_record_payment", args=[invoice.pk]
            )
            if may_pay and invoice.status in OPEN and balances[invoice.pk].amount_remaining > 0
            else "",
        }
        for invoice in recent
    ]
    payments = []
    if _may(request, "payments.view_payment"):
        payments = [
            {"payment": payment, "amount": money_display(payment.amount, payment.currency)}
            for payment in payment_list()
            .filter(invoice__customer=customer)
            .order_by("-created_at", "-id")[:RECENT_PAYMENTS]
        ]
    return {
        "invoice_rows": rows,
        "payments": payments,
        "invoices_url": reverse("admin:invoices_invoice_changelist") + f"?q={customer.external_id}",
    }


def events_panel(request, customer: Customer, at: datetime) -> dict | None:
    if not _may(request, "metering.view_event"):
        return None
    events = Event.objects.filter(external_customer_id=customer.external_id).order_by(
        "-received_at", "-id"
    )
    return {
        "events": list(events[:RECENT_EVENTS]),
        "events_url": reverse("admin:metering_event_changelist")
        + f"?external_customer_id={customer.external_id}",
        "day_ago": at - timedelta(days=1),
    }


def own_template_panel(request, customer: Customer, at: datetime) -> dict | None:
    """For a panel whose template reads its own figures through a template tag (the wallet and
    entitlements panels): it needs the customer as `original`, as on the stock change page."""
    return {"original": customer}


def coupons_panel(request, customer: Customer, at: datetime) -> dict | None:
    """The coupons given to the customer (customers.services.coupons)."""
    if not _may(request, "customers.view_appliedcoupon"):
        return None
    return {
        "applied_coupons": AppliedCoupon.objects.filter(customer=customer)
        .select_related("coupon")
        .order_by("-applied_at"),
        "can_apply_coupon": _may(request, "customers.add_appliedcoupon"),
    }


# The customer page, top to bottom. One line per panel.
CUSTOMER_PANELS: list[Panel] = [
    Panel("admin/console/panels/summary.html", summary_panel),
    Panel("admin/customers/customer/includes/wallet.html", own_template_panel),
    Panel("admin/console/panels/subscriptions.html", subscriptions_panel),
    Panel("admin/customers/customer/includes/entitlements.html", own_template_panel),
    Panel("admin/console/panels/coupons.html", coupons_panel),
    Panel("admin/console/panels/usage.html", usage_panel),
    Panel("admin/console/panels/invoices.html", invoices_panel),
    Panel("admin/console/panels/events.html", events_panel),
]


def customer_panels(*, request, customer: Customer, at: datetime) -> list[str]:
    """The HTML of each panel shown to this user, in page order. A panel's template sees its
    context function's keys as they are (`{{ balance }}`) and as `panel` (`{{ panel.balance }}`),
    with `customer`, `at`, and the request's context (user, perms)."""
    shown = []
    # The summary and the wallet panel both show the upcoming invoice: priced once per page.
    with upcoming_invoices_shared():
        for panel in CUSTOMER_PANELS:
            context = panel.context(request, customer, at)
            if context is not None:
                context = {**context, "customer": customer, "at": at}
                context["panel"] = context
                shown.append(render_to_string(panel.template, context, request=request))
    return shown
