"""Revenue recognition schedules: what each invoice line (or correction) brings into revenue,
month by month (docs/operations.md, "Finance").

A schedule is written once, when what it follows is issued, and never changed: a correction
(a credit note, a void) adds a schedule of its own with negative amounts. The entries of a
schedule add up to its amount exactly, in the schedule's currency.
"""

from django.db import models
from django.db.models import Q

from catalog.models import AMOUNT


class RevenueSource(models.TextChoices):
    INVOICE_LINE = "invoice_line", "Invoice line"
    CREDIT_NOTE_LINE = "credit_note_line", "Credit note line"
    INVOICE_VOID = "invoice_void", "Invoice voided"
    CREDIT_NOTE_VOID = "credit_note_void", "Credit note voided"


class RecognitionMethod(models.TextChoices):
    RATABLE = "ratable", "Ratably by day over the service window"
    POINT_IN_TIME = "point_in_time", "When billed"
    REVERSAL = "reversal", "Reversal of recognised and remaining revenue"


class RevenueSchedule(models.Model):
    """How one invoice line, credit note line or void moves revenue, month by month."""

    source = models.CharField(max_length=20, choices=RevenueSource.choices)
    invoice = models.ForeignKey(
        "invoices.Invoice", on_delete=models.PROTECT, related_name="revenue_schedules"
    )
    invoice_line = models.ForeignKey(
        "invoices.InvoiceLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="revenue_schedules",
    )
    credit_note = models.ForeignKey(
        "invoices.CreditNote",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="revenue_schedules",
    )
    credit_note_line = models.ForeignKey(
        "invoices.CreditNoteLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="revenue_schedules",
    )
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=20, choices=RecognitionMethod.choices)
    amount = models.DecimalField(
        **AMOUNT, help_text="Revenue it moves in all (negative for a correction)."
    )
    billed_on = models.DateField(help_text="When it was billed (or credited, or voided), UTC.")
    billed_month = models.DateField(help_text="The first day of billed_on's month.")
    service_start = models.DateField(null=True, blank=True)
    service_end = models.DateField(null=True, blank=True, help_text="Exclusive.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["billed_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice_line"],
                condition=Q(source="invoice_line"),
                name="revenue_schedule_once_per_line",
            ),
            models.UniqueConstraint(
                fields=["credit_note_line"],
                condition=Q(source="credit_note_line"),
                name="revenue_schedule_once_per_credit_line",
            ),
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(source="invoice_void"),
                name="revenue_schedule_once_per_void",
            ),
            models.UniqueConstraint(
                fields=["credit_note"],
                condition=Q(source="credit_note_void"),
                name="revenue_schedule_once_per_credit_void",
            ),
        ]
        indexes = [models.Index(fields=["customer", "billed_on"], name="revenue_customer_idx")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} #{self.pk}: {self.amount} {self.currency}"


class RevenueEntry(models.Model):
    """One month of a schedule. Currency and billed month are copied from the schedule so the
    monthly report is one aggregate over this table."""

    schedule = models.ForeignKey(RevenueSchedule, on_delete=models.CASCADE, related_name="entries")
    month = models.DateField(help_text="The first day of the month it is recognised in.")
    amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)
    billed_month = models.DateField()

    class Meta:
        ordering = ["schedule", "month"]
        verbose_name_plural = "revenue entries"
        constraints = [
            models.UniqueConstraint(fields=["schedule", "month"], name="revenue_entry_once"),
        ]
        indexes = [
            models.Index(fields=["currency", "month", "billed_month"], name="revenue_month_idx")
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.amount} {self.currency}"


# The admin's Finance pages that are reports, not lists of rows (finance/admin.py): proxies
# give each its own entry in the admin's Finance section and its own view permission, which
# the roles grant (billing/roles.py, "finance").
class RevenueReport(RevenueEntry):
    class Meta:
        proxy = True
        verbose_name = verbose_name_plural = "revenue report"


class FinanceExport(RevenueEntry):
    class Meta:
        proxy = True
        verbose_name = verbose_name_plural = "CSV exports"


class ReceivablesAging(RevenueEntry):
    class Meta:
        proxy = True
        verbose_name = verbose_name_plural = "receivables aging"
