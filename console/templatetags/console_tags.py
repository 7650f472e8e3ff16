"""The console's navigation bar and its date formatting for periods."""

from django import template

from console.navigation import navigation_for
from customers.admin.display import moment_text
from invoices.pdf import period_display

register = template.Library()


@register.inclusion_tag("admin/console/nav.html", takes_context=True)
def console_nav(context):
    request = context.get("request")
    if request is None or not getattr(request.user, "is_staff", False):
        return {"sections": []}
    return {"sections": navigation_for(user=request.user, path=request.path)}


@register.simple_tag
def period(start, end) -> str:
    """A period as dates ("Mar 1 – Mar 31, 2026"), times only when it is shorter than a day or
    does not fall on midnights; an opening invoice's empty period as "Opening, Mar 1, 2026"."""
    return period_display(start, end) or "—"


@register.filter
def moment(value) -> str:
    """A moment for people: "Nov 1, 2026" at midnight UTC, else "Nov 1, 2026 13:49 UTC"."""
    return moment_text(value)
