"""The customer 360 page: the customer admin of the payments app (itself built on the invoices
and customers ones), rendering the panels of console/panels.py above the customer's details."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

import payments.admin  # noqa: F401  (registers the base admins first)
from catalog.currencies import money_display
from console.panels import customer_panels
from customers.models import Customer
from customers.services import subscription_change_plan
from invoices.admin.display import line_rows
from invoices.pdf import period_display
from invoices.selectors import NoUpcomingInvoice, invoice_list, upcoming_invoice
from payments.admin import CustomerAdmin as BaseCustomerAdmin

admin.site.unregister(Customer)


class _Rollback(Exception):
    """Undoes a previewed plan change."""


@admin.register(Customer)
class CustomerAdmin(BaseCustomerAdmin):
    change_form_template = "admin/console/customer/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        customer = self.get_object(request, object_id)
        if customer is not None:
            extra_context["panels"] = customer_panels(
                request=request, customer=customer, at=timezone.now()
            )
        # The panels hold what the parent admins add to the page: skip their extra reads.
        return admin.ModelAdmin.change_view(self, request, object_id, form_url, extra_context)

    can_preview_changes = True

    def change_plan_preview(self, *, subscription, plan, effective_at) -> dict:
        """The upcoming invoice as it would be with the change, then the change rolled back."""
        at = timezone.now()
        preview: dict = {}
        try:
            with transaction.atomic():
                subscription_change_plan(
                    subscription=subscription, plan=plan, at=at, effective_at=effective_at
                )
                draft = upcoming_invoice(customer=subscription.customer, at=at)
                preview = {
                    "total": money_display(draft.total, draft.currency),
                    "period": period_display(draft.period_start, draft.period_end),
                    "line_rows": line_rows(
                        draft.lines,
                        currency=draft.currency,
                        external_customer_id=subscription.customer.external_id,
                        period=(draft.period_start, draft.period_end),
                    ),
                }
                raise _Rollback
        except _Rollback:
            return preview
        except (ValidationError, NoUpcomingInvoice) as refusal:
            messages_ = getattr(refusal, "messages", [str(refusal)])
            return {"total": "—", "error": " ".join(messages_)}

    def subscribed_message(self, subscription) -> str:
        issued = invoice_list(customer_external_id=subscription.customer.external_id).filter(
            subscription=subscription
        )
        numbers = [str(invoice) for invoice in issued]
        made = (
            f" Invoice{'s' if len(numbers) > 1 else ''} created: {', '.join(numbers)}."
            if numbers
            else " No invoice yet: the first one comes at the end of the first period."
        )
        return super().subscribed_message(subscription) + made


from console import plan_admin  # noqa: E402, F401  (the plan page: subscribers, sample prices)
