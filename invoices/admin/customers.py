"""The customer page gains its upcoming invoice and latest invoices.

customers may not import invoices (docs/architecture.md), so the invoices app re-registers the
customer admin as a subclass of the customers app's one, adding a page and a section.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

import customers.admin  # noqa: F401  (registers the base admin first)
from catalog.currencies import money_display
from customers.admin.customers import CustomerAdmin as BaseCustomerAdmin
from customers.models import Customer
from invoices.admin.display import line_rows, totals_rows
from invoices.selectors import NoUpcomingInvoice, invoice_list, upcoming_invoice

RECENT_INVOICES = 10

admin.site.unregister(Customer)


@admin.register(Customer)
class CustomerAdmin(BaseCustomerAdmin):
    change_form_template = "admin/invoices/customer/change_form.html"

    def _can_view_invoices(self, request: HttpRequest) -> bool:
        return request.user.has_perm("invoices.view_invoice") or request.user.has_perm(
            "invoices.change_invoice"
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        customer = self.get_object(request, object_id)
        can_view = self._can_view_invoices(request)
        extra_context["can_view_invoices"] = can_view
        if customer is not None and can_view:
            recent = list(invoice_list(customer_external_id=customer.external_id)[:RECENT_INVOICES])
            for invoice in recent:
                invoice.total_display = money_display(invoice.total, invoice.currency)
            extra_context["recent_invoices"] = recent
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        custom = [
            path(
                "<path:object_id>/upcoming-invoice/",
                self.admin_site.admin_view(self.upcoming_invoice_view),
                name="customers_customer_upcoming_invoice",
            )
        ]
        return custom + super().get_urls()

    def upcoming_invoice_view(self, request: HttpRequest, object_id: str):
        customer = self.get_object(request, object_id)
        if customer is None:
            raise Http404("No such customer.")
        if not (
            self.has_view_or_change_permission(request, customer)
            and self._can_view_invoices(request)
        ):
            raise PermissionDenied
        at = timezone.now()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Upcoming invoice of {customer.name}",
            "customer": customer,
            "customer_url": self._customer_page(customer),
            "at": at,
        }
        try:
            draft = upcoming_invoice(customer=customer, at=at)
        except NoUpcomingInvoice as error:
            context["no_invoice"] = str(error)
        else:
            context.update(
                draft=draft,
                total=money_display(draft.total, draft.currency),
                line_rows=line_rows(
                    draft.lines,
                    currency=draft.currency,
                    external_customer_id=customer.external_id,
                    period=(draft.period_start, draft.period_end),
                ),
                totals_rows=totals_rows(draft),
            )
        return TemplateResponse(request, "admin/invoices/customer/upcoming_invoice.html", context)
