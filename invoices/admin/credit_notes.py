"""Credit notes in the admin: the list, a note's page with its lines and links, and the page
that issues one for an invoice (docs/operations.md, "Credit notes")."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from catalog.currencies import money_display
from invoices.documents import credit_note_hosted_url, credit_note_pdf_url
from invoices.models import CreditNote, CreditNoteLine, CreditNoteOutcome
from invoices.services.credit_notes import MAX_REASON


class CreditNoteLineInline(admin.TabularInline):
    model = CreditNoteLine
    extra = 0
    fields = ["description", "invoice_line", "amount", "tax"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CreditNote)
class CreditNoteAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "invoice_link",
        "customer",
        "total_display",
        "outcome",
        "status",
        "issued_at",
    ]
    list_filter = ["outcome", "status", "currency", ("issued_at", admin.DateFieldListFilter)]
    search_fields = ["number", "invoice__number", "customer__external_id", "customer__name"]
    list_select_related = ["invoice", "customer"]
    inlines = [CreditNoteLineInline]
    fields = [
        "number",
        "invoice_link",
        "customer",
        "status",
        "reason",
        "outcome",
        "currency",
        "subtotal",
        "tax",
        "total",
        "applied_to_invoice",
        "outcome_amount",
        "offset_used",
        "refund_id",
        "wallet_reference",
        "issued_at",
        "created_by",
        "document_links",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # issued from an invoice's page ("Issue a credit note")

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Invoice", ordering="invoice__number")
    def invoice_link(self, note: CreditNote) -> str:
        url = reverse("admin:invoices_invoice_change", args=[note.invoice_id])
        return format_html('<a href="{}">{}</a>', url, note.invoice.number)

    @admin.display(description="Total", ordering="total")
    def total_display(self, note: CreditNote) -> str:
        return money_display(note.total, note.currency)

    @admin.display(description="Customer links")
    def document_links(self, note: CreditNote) -> str:
        return format_html(
            '<a href="{}" target="_blank">PDF</a> · <a href="{}" target="_blank">Hosted page</a>',
            credit_note_pdf_url(credit_note=note),
            credit_note_hosted_url(credit_note=note),
        )


class CreditNoteForm(forms.Form):
    """Issue a credit note: an amount per line (net), or one gross amount for the invoice."""

    reason = forms.CharField(max_length=MAX_REASON, widget=forms.TextInput(attrs={"size": 60}))
    outcome = forms.ChoiceField(choices=CreditNoteOutcome.choices)
    amount = forms.DecimalField(
        required=False,
        min_value=Decimal("0.000001"),
        max_digits=20,
        decimal_places=6,
        help_text="A gross amount (tax included) for the invoice as a whole; or fill the lines.",
    )

    def __init__(self, *args, lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.invoice_lines = list(lines)
        for line in self.invoice_lines:
            self.fields[f"line_{line.pk}"] = forms.DecimalField(
                required=False,
                min_value=Decimal("0.000001"),
                max_digits=20,
                decimal_places=6,
                label=line.description[:80],
                help_text=f"Net, at most what is left of {line.amount - line.discount}.",
            )

    def line_credits(self) -> list[tuple[int, Decimal]]:
        return [
            (line.pk, self.cleaned_data[f"line_{line.pk}"])
            for line in self.invoice_lines
            if self.cleaned_data.get(f"line_{line.pk}")
        ]

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("amount")) == bool(self.line_credits()):
            raise ValidationError("Give either an amount or amounts for some lines.")
        return cleaned


def issued_message(request, note: CreditNote) -> None:
    messages.success(
        request,
        f"Credit note {note.number} issued for {money_display(note.total, note.currency)}.",
    )
