"""The customer 360 page: the customer admin of the payments app (itself built on the invoices
and customers ones), rendering the panels of console/panels.py above the customer's details."""

from django.contrib import admin
from django.utils import timezone

import payments.admin  # noqa: F401  (registers the base admins first)
from console.panels import customer_panels
from customers.models import Customer
from invoices.selectors import invoice_list
from payments.admin import CustomerAdmin as BaseCustomerAdmin

admin.site.unregister(Customer)


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
