"""The payments admin: the ledger, webhook deliveries, the "Overdue" list, and on the invoice
page its payments, "Record payment", "Retry now" and whether the Stripe gateway is on.

invoices may not import payments (docs/architecture.md), so the invoice and customer admins are
re-registered here as subclasses of the invoices app's ones, as invoices does for customers.
"""

from datetime import datetime, time
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

import invoices.admin  # noqa: F401  (registers the base admins first)
from catalog.currencies import money_display
from customers.models import Customer
from invoices.admin.customers import CustomerAdmin as BaseCustomerAdmin
from invoices.admin.invoices import InvoiceAdmin as BaseInvoiceAdmin
from invoices.models import Invoice
from payments.gateway import GatewayDisabled, GatewayError, stripe_enabled
from payments.models import (
    OverdueInvoice,
    Payment,
    PaymentMethod,
    Refund,
    StripeCustomer,
    WebhookDelivery,
)
from payments.selectors import (
    customer_receivables,
    days_overdue,
    invoice_balances,
    invoice_dunning_state,
    invoices_overdue,
    payment_list,
)
from payments.services import (
    MANUAL_METHODS,
    NoPaymentMethod,
    PaymentStateError,
    invoice_attempt_payment,
    payment_record_manual,
)

GATEWAY_OFF = (
    "The Stripe gateway is off (STRIPE_SECRET_KEY is not set): no automatic payment, no "
    "online payment from the hosted page. Manual payments work."
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    fields = ["amount", "stripe_refund_id", "reason", "refunded_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "invoice",
        "gateway",
        "status",
        "amount_display",
        "method",
        "attempt",
        "created_at",
        "settled_at",
    ]
    list_filter = ["gateway", "status", "method"]
    search_fields = ["invoice__number", "reference", "stripe_payment_intent_id"]
    list_select_related = ["invoice"]
    inlines = [RefundInline]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, payment: Payment) -> str:
        return money_display(payment.amount, payment.currency)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "event_type", "event_id", "valid", "processed_at", "outcome"]
    list_filter = ["valid", "event_type"]
    search_fields = ["event_id"]
    fields = [
        "received_at",
        "valid",
        "event_id",
        "event_type",
        "processed_at",
        "outcome",
        "headers",
        "body",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("payments.view_webhookdelivery")


@admin.register(StripeCustomer)
class StripeCustomerAdmin(ReadOnlyAdmin):
    list_display = ["customer", "stripe_customer_id", "default_payment_method_id", "created_at"]
    search_fields = ["customer__external_id", "stripe_customer_id"]
    list_select_related = ["customer"]


@admin.register(OverdueInvoice)
class OverdueInvoiceAdmin(ReadOnlyAdmin):
    """Issued invoices whose due date has passed and that are not paid, oldest first."""

    list_display = [
        "invoice_link",
        "customer",
        "due_date",
        "days_overdue",
        "amount_due_display",
        "remaining_display",
        "status",
    ]
    list_select_related = ["customer"]
    search_fields = ["number", "customer__external_id", "customer__name"]
    ordering = ["due_date", "id"]

    def get_queryset(self, request):
        return invoices_overdue(today=timezone.now().date()).select_related("customer")

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "context_data") and "cl" in response.context_data:
            # One read of the ledger for the page; the rows are the objects rendered next.
            rows = response.context_data["cl"].result_list
            balances = invoice_balances(list(rows))
            for invoice in rows:
                invoice.balance = balances[invoice.pk]
        return response

    def _remaining(self, invoice) -> Decimal:
        balance = getattr(invoice, "balance", None) or invoice_balances([invoice])[invoice.pk]
        return balance.amount_remaining

    @admin.display(description="Invoice", ordering="number")
    def invoice_link(self, invoice) -> str:
        url = reverse("admin:invoices_invoice_change", args=[invoice.pk])
        return format_html('<a href="{}">{}</a>', url, invoice.number)

    @admin.display(description="Days overdue")
    def days_overdue(self, invoice) -> int:
        return days_overdue(invoice=invoice, today=timezone.now().date())

    @admin.display(description="Amount due", ordering="amount_due")
    def amount_due_display(self, invoice) -> str:
        return money_display(invoice.amount_due, invoice.currency)

    @admin.display(description="Remaining")
    def remaining_display(self, invoice) -> str:
        return money_display(self._remaining(invoice), invoice.currency)


class RecordPaymentForm(forms.Form):
    amount = forms.DecimalField(max_digits=20, decimal_places=6, min_value=Decimal("0.000001"))
    paid_on = forms.DateField(help_text="The day the money arrived (YYYY-MM-DD).")
    method = forms.ChoiceField(
        choices=[(value, PaymentMethod(value).label) for value in MANUAL_METHODS]
    )
    reference = forms.CharField(max_length=200, required=False)


admin.site.unregister(Invoice)


@admin.register(Invoice)
class InvoiceAdmin(BaseInvoiceAdmin):
    change_form_template = "admin/payments/invoice/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        invoice = self.get_object(request, object_id)
        if invoice is not None:
            balance = invoice_balances([invoice])[invoice.pk]
            may_change = self.has_change_permission(request, invoice)
            open_ = balance.amount_remaining > 0 and invoice.status in (
                "finalized",
                "uncollectible",
            )
            extra_context.update(
                gateway_on=stripe_enabled(),
                gateway_off_notice=GATEWAY_OFF,
                payments=list(payment_list(invoice_id=invoice.pk)),
                amount_paid=money_display(balance.amount_paid, invoice.currency),
                amount_remaining=money_display(balance.amount_remaining, invoice.currency),
                payment_status=balance.payment_status,
                dunning=invoice_dunning_state(invoice=invoice),
                can_record_payment=may_change and open_,
                can_retry=may_change and open_ and stripe_enabled(),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        custom = [
            path(
                "<path:object_id>/record-payment/",
                self.admin_site.admin_view(self.record_payment_view),
                name="invoices_invoice_record_payment",
            ),
            path(
                "<path:object_id>/retry-payment/",
                self.admin_site.admin_view(self.retry_payment_view),
                name="invoices_invoice_retry_payment",
            ),
        ]
        return custom + super().get_urls()

    def _invoice_for_change(self, request, object_id) -> Invoice:
        invoice = self.get_object(request, object_id)
        if invoice is None:
            raise Http404("No such invoice.")
        if not self.has_change_permission(request, invoice):
            raise PermissionDenied
        return invoice

    def _back(self, invoice):
        return HttpResponseRedirect(reverse("admin:invoices_invoice_change", args=[invoice.pk]))

    def record_payment_view(self, request: HttpRequest, object_id: str):
        invoice = self._invoice_for_change(request, object_id)
        remaining = invoice_balances([invoice])[invoice.pk].amount_remaining
        now = timezone.now()
        if request.method == "POST":
            form = RecordPaymentForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                paid_at = datetime.combine(data["paid_on"], time(12), tzinfo=now.tzinfo)
                try:
                    payment = payment_record_manual(
                        invoice=invoice,
                        amount=data["amount"],
                        method=data["method"],
                        reference=data["reference"],
                        paid_at=min(paid_at, now),
                        at=now,
                    )
                except PaymentStateError as error:
                    messages.error(request, str(error))
                    return self._back(invoice)
                except ValidationError as error:
                    for field, errors in error.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    messages.success(
                        request,
                        f"Payment of {money_display(payment.amount, invoice.currency)} recorded "
                        f"on invoice {invoice}.",
                    )
                    return self._back(invoice)
        else:
            form = RecordPaymentForm(
                initial={"amount": remaining, "paid_on": now.date(), "method": "bank_transfer"}
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": invoice,
            "title": f"Record a payment on invoice {invoice}",
            "form": form,
            "remaining": money_display(remaining, invoice.currency),
        }
        return TemplateResponse(request, "admin/payments/invoice/record_payment.html", context)

    def retry_payment_view(self, request: HttpRequest, object_id: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        invoice = self._invoice_for_change(request, object_id)
        try:
            payment = invoice_attempt_payment(invoice=invoice, at=timezone.now())
        except (PaymentStateError, NoPaymentMethod, GatewayDisabled, GatewayError) as error:
            messages.error(request, str(error))
        else:
            if payment is None:
                messages.warning(request, "Nothing to charge: paid, or an attempt awaits Stripe.")
            else:
                messages.success(request, f"Payment attempt {payment.attempt}: {payment.status}.")
        return self._back(invoice)


admin.site.unregister(Customer)


@admin.register(Customer)
class CustomerAdmin(BaseCustomerAdmin):
    change_form_template = "admin/payments/customer/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        customer = self.get_object(request, object_id)
        if customer is not None and self._can_view_invoices(request):
            extra_context["receivables"] = [
                {
                    "currency": row.currency,
                    "outstanding": money_display(row.outstanding, row.currency),
                    "overdue": money_display(row.overdue, row.currency),
                    "overdue_invoices": row.overdue_invoices,
                }
                for row in customer_receivables(
                    customer_id=customer.pk, today=timezone.now().date()
                )
            ]
        return super().change_view(request, object_id, form_url, extra_context)
