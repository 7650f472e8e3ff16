"""The invoice admin: the list operators work from, the invoice page with its lines, the actions.

Invoices are computed, never typed in: every field is read-only, and the actions (finalize,
void, mark uncollectible) each call one service, for the operator who may change invoices.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from billing.errors import AppError
from catalog.currencies import money_display
from invoices.admin.credit_notes import CreditNoteForm, issued_message
from invoices.admin.display import line_rows, totals_rows
from invoices.documents import invoice_hosted_url, invoice_pdf_url
from invoices.models import Invoice, InvoiceStatus
from invoices.pdf import period_display
from invoices.services import (
    invoice_finalize,
    invoice_mark_uncollectible,
    invoice_void,
)
from invoices.services.credit_notes import (
    CREDITABLE,
    LineCredit,
    credit_note_issue,
    invoice_creditable,
)
from invoices.services.reissue import invoice_for_moment, invoice_rebill

# action name in URLs → (service, verb for messages, statuses it applies to)
ACTIONS = {
    "finalize": (invoice_finalize, "finalized", (InvoiceStatus.DRAFT,)),
    "void": (
        invoice_void,
        "voided",
        (InvoiceStatus.DRAFT, InvoiceStatus.FINALIZED, InvoiceStatus.UNCOLLECTIBLE),
    ),
    "mark-uncollectible": (
        invoice_mark_uncollectible,
        "marked uncollectible",
        (InvoiceStatus.FINALIZED,),
    ),
}


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    change_form_template = "admin/invoices/invoice/change_form.html"
    list_display = [
        "invoice_label",
        "customer_link",
        "status",
        "kind",
        "period",
        "total_display",
        "amount_due_display",
        "issued_on",
        "due_date",
    ]
    list_display_links = ["invoice_label"]
    list_filter = ["status", "kind", "currency", ("issued_at", admin.DateFieldListFilter)]
    search_fields = ["number", "customer__external_id", "customer__name", "customer__email"]
    list_select_related = ["customer"]
    list_per_page = 50
    ordering = ["-created_at", "-id"]
    actions = ["finalize_selected", "void_selected", "mark_uncollectible_selected"]
    fieldsets = [
        (None, {"fields": ["number", "customer", "subscription", "kind", "status", "currency"]}),
        ("Period", {"fields": ["period_start", "period_end", "grace_until"]}),
        ("Issue", {"fields": ["issued_at", "due_date", "voided_at", "paid_at"]}),
        ("Document", {"fields": ["document_links", "pdf_rendered_at", "emailed_at"]}),
        ("Verification", {"fields": ["verification"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [
            "number",
            "customer",
            "subscription",
            "kind",
            "status",
            "currency",
            "period_start",
            "period_end",
            "grace_until",
            "issued_at",
            "due_date",
            "voided_at",
            "paid_at",
            "document_links",
            "pdf_rendered_at",
            "emailed_at",
            "verification",
        ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # --- columns ------------------------------------------------------------------------------

    @admin.display(description="Invoice", ordering="number")
    def invoice_label(self, invoice: Invoice) -> str:
        return str(invoice)

    @admin.display(description="Customer", ordering="customer__name")
    def customer_link(self, invoice: Invoice) -> str:
        url = reverse("admin:customers_customer_change", args=[invoice.customer_id])
        return format_html('<a href="{}">{}</a>', url, invoice.customer.name)

    @admin.display(description="Period", ordering="period_start")
    def period(self, invoice: Invoice) -> str:
        # Dates for whole days, times only for shorter periods; "Opening, <date>" for the
        # fees due when a subscription starts (docs/operations.md, "The console").
        return period_display(invoice.period_start, invoice.period_end) or "—"

    @admin.display(description="Issued", ordering="issued_at")
    def issued_on(self, invoice: Invoice):
        # The day is what an operator compares (the time is on the invoice's page).
        return invoice.issued_at.date() if invoice.issued_at else None

    @admin.display(description="Total", ordering="total")
    def total_display(self, invoice: Invoice) -> str:
        return money_display(invoice.total, invoice.currency)

    @admin.display(description="Amount due", ordering="amount_due")
    def amount_due_display(self, invoice: Invoice) -> str:
        return money_display(invoice.amount_due, invoice.currency)

    @admin.display(description="Customer links")
    def document_links(self, invoice: Invoice) -> str:
        pdf, page = invoice_pdf_url(invoice=invoice), invoice_hosted_url(invoice=invoice)
        if not pdf and not page:
            return "— (a draft has no customer link)"
        return format_html(
            '<a href="{}" target="_blank">PDF</a> · <a href="{}" target="_blank">Hosted page</a>',
            pdf,
            page,
        )

    @admin.display(description="Recomputed from its events")
    def verification(self, invoice: Invoice) -> str:
        """What verify_invoices found: "verified at …", or each line's drift."""
        if invoice.verification_drift:
            return format_html_join(
                mark_safe("<br>"),
                "Drift on “{}”: expected {} for {}, stored {} for {} (events {} → {}{})",
                (
                    (
                        row["description"],
                        row["expected_amount"],
                        row["expected_quantity"],
                        row["stored_amount"],
                        row["stored_quantity"],
                        row["window_start"][:16].replace("T", " "),
                        row["window_end"][:16].replace("T", " "),
                        f"; {row['late_events']} arrived late" if row["late_events"] else "",
                    )
                    for row in invoice.verification_drift
                ),
            )
        if invoice.verified_at:
            return f"Verified at {invoice.verified_at:%Y-%m-%d %H:%M} UTC: matches its events"
        return "Not verified yet (verify_invoices runs daily)"

    # --- the invoice page ---------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        invoice = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        if invoice is not None:
            extra_context["line_rows"] = line_rows(
                invoice.lines.select_related("meter").order_by("position", "id"),
                currency=invoice.currency,
                external_customer_id=invoice.customer.external_id,
                period=(invoice.period_start, invoice.period_end),
            )
            extra_context["totals_rows"] = totals_rows(invoice)
            extra_context["credit_notes"] = list(invoice.credit_notes.order_by("issued_at", "id"))
            may_change = self.has_change_permission(request, invoice)
            extra_context["can_credit"] = (
                may_change
                and invoice.status in CREDITABLE
                and request.user.has_perm("invoices.add_creditnote")
            )
            extra_context["can_rebill"] = (
                may_change and invoice.kind == "subscription" and invoice.status in CREDITABLE
            )
            extra_context["invoice_actions"] = [
                (
                    name,
                    name.replace("-", " ").capitalize(),  # "Mark uncollectible"
                    reverse(f"admin:invoices_invoice_{name.replace('-', '_')}", args=[invoice.pk]),
                )
                for name, (_, verb, statuses) in ACTIONS.items()
                if may_change and invoice.status in statuses
            ]
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        custom = [
            path(
                "rebill-event/", view(self.rebill_lookup_view), name="invoices_invoice_rebill_event"
            ),
            path(
                "<path:object_id>/credit-note/",
                view(self.credit_note_view),
                name="invoices_invoice_credit_note",
            ),
            path(
                "<path:object_id>/rebill/", view(self.rebill_view), name="invoices_invoice_rebill"
            ),
        ]
        custom += [
            path(
                f"<path:object_id>/{name}/",
                view(self._action_view(name)),
                name=f"invoices_invoice_{name.replace('-', '_')}",
            )
            for name in ACTIONS
        ]
        return custom + super().get_urls()

    # --- credit notes, re-billing (docs/operations.md) ----------------------------------------

    def _invoice_for_change(self, request, object_id: str) -> Invoice:
        invoice = self.get_object(request, object_id)
        if invoice is None:
            raise Http404("No such invoice.")
        if not self.has_change_permission(request, invoice):
            raise PermissionDenied
        return invoice

    def _page(self, request, invoice, *, title: str, template: str, **context):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": invoice,
            "title": title,
            "invoice_url": reverse("admin:invoices_invoice_change", args=[invoice.pk]),
            **context,
        }
        return TemplateResponse(request, template, context)

    def credit_note_view(self, request: HttpRequest, object_id: str):
        """Issue a credit note for the invoice (invoices.services.credit_notes)."""
        invoice = self._invoice_for_change(request, object_id)
        if not request.user.has_perm("invoices.add_creditnote"):
            raise PermissionDenied
        lines = invoice.lines.order_by("position", "id")
        form = CreditNoteForm(request.POST or None, lines=lines)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            credits = form.line_credits()
            try:
                note = credit_note_issue(
                    invoice=invoice,
                    reason=data["reason"],
                    outcome=data["outcome"],
                    at=timezone.now(),
                    lines=[LineCredit(line_id, amount) for line_id, amount in credits]
                    if credits
                    else None,
                    amount=None if credits else data["amount"],
                    created_by=request.user.get_username(),
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                issued_message(request, note)
                return HttpResponseRedirect(
                    reverse("admin:invoices_invoice_change", args=[invoice.pk])
                )
        return self._page(
            request,
            invoice,
            title=f"Issue a credit note for {invoice}",
            template="admin/invoices/invoice/credit_note.html",
            form=form,
            creditable=money_display(invoice_creditable(invoice=invoice), invoice.currency),
        )

    def rebill_view(self, request: HttpRequest, object_id: str):
        """Void the period's invoice and bill the period again now (a late event's fix)."""
        invoice = self._invoice_for_change(request, object_id)
        if request.method == "POST":
            try:
                reissued = invoice_rebill(invoice=invoice, at=timezone.now())
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
                return HttpResponseRedirect(
                    reverse("admin:invoices_invoice_change", args=[invoice.pk])
                )
            target = reissued or invoice
            messages.success(
                request,
                f"Invoice {invoice} voided; the period was billed again"
                + (f" as {reissued}." if reissued else "."),
            )
            return HttpResponseRedirect(reverse("admin:invoices_invoice_change", args=[target.pk]))
        return self._page(
            request,
            invoice,
            title=f"Re-bill the period of {invoice}",
            template="admin/invoices/invoice/rebill.html",
            paid=invoice.status == InvoiceStatus.PAID,
        )

    def rebill_lookup_view(self, request: HttpRequest):
        """From the event debugger: the invoice of the period a late event belongs to."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        moment = parse_datetime(request.GET.get("at", "") or "")
        customer = request.GET.get("customer", "")[:255]
        invoice = None
        if moment is not None and customer:
            invoice = invoice_for_moment(external_customer_id=customer, moment=moment)
        if invoice is None:
            messages.warning(request, "No issued invoice covers that customer and moment.")
            return HttpResponseRedirect(reverse("admin:invoices_invoice_changelist"))
        return HttpResponseRedirect(reverse("admin:invoices_invoice_rebill", args=[invoice.pk]))

    def _action_view(self, name: str):
        service, verb, _ = ACTIONS[name]

        def view(request: HttpRequest, object_id: str):
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            invoice = self.get_object(request, object_id)
            if invoice is None:
                raise Http404("No such invoice.")
            if not self.has_change_permission(request, invoice):
                raise PermissionDenied
            try:
                invoice = service(invoice=invoice, at=timezone.now())
            except AppError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, f"Invoice {invoice} {verb}.")
            return HttpResponseRedirect(reverse("admin:invoices_invoice_change", args=[invoice.pk]))

        return view

    # --- list actions -------------------------------------------------------------------------

    def _apply(self, request, queryset, name: str) -> None:
        if not self.has_change_permission(request):
            raise PermissionDenied
        service, verb, _ = ACTIONS[name]
        done, refused = [], []
        for invoice in queryset.order_by("pk"):
            try:
                done.append(str(service(invoice=invoice, at=timezone.now())))
            except AppError as error:
                refused.append(str(error))
        if done:
            messages.success(request, f"{len(done)} invoice(s) {verb}: {', '.join(done)}.")
        for message in refused:
            messages.warning(request, message)

    @admin.action(description="Finalize the selected drafts", permissions=["change"])
    def finalize_selected(self, request, queryset):
        self._apply(request, queryset, "finalize")

    @admin.action(description="Void the selected invoices", permissions=["change"])
    def void_selected(self, request, queryset):
        self._apply(request, queryset, "void")

    @admin.action(description="Mark the selected invoices uncollectible", permissions=["change"])
    def mark_uncollectible_selected(self, request, queryset):
        self._apply(request, queryset, "mark-uncollectible")
