"""The audit log (django-auditlog): which models are audited, and who the actor of a change is.

Adding a model is one line in AUDITED (docs/operations.md, "Audit log"). Changes made through
the admin carry the signed-in user; changes made through the API carry the API key (there is no
Django user then): its label goes in the entry's `actor_email`, its id in `additional_data`.
Changes made by tasks and commands have no actor ("system").
"""

from auditlog.cid import get_cid
from auditlog.middleware import AuditlogMiddleware
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models.signals import pre_save
from django.utils.encoding import smart_str

from billing.bulk import rows_insert

# (app_label.Model, options for auditlog.register). Bookkeeping fields stay out of the diff:
# BOOKKEEPING everywhere, and the ones below.
AUDITED: list[tuple[str, dict]] = [
    ("catalog.Meter", {}),
    ("catalog.Plan", {}),
    ("catalog.Charge", {}),
    ("catalog.Tier", {}),
    ("catalog.Feature", {}),
    ("catalog.PlanFeature", {}),
    ("catalog.TaxRate", {}),
    ("catalog.Coupon", {}),
    ("customers.Customer", {}),
    # The period moving forward at each cycle close is not a change anybody made.
    (
        "customers.Subscription",
        {"exclude_fields": ["current_period_start", "current_period_end"]},
    ),
    ("customers.SubscriptionPhase", {}),
    # The low-balance flag moves with the balance, not with anybody's change.
    ("customers.Wallet", {"exclude_fields": ["low_balance_since"]}),
    ("customers.WalletTransaction", {}),
    ("customers.SubscriptionFeature", {}),
    ("customers.AppliedCoupon", {}),
    # An invoice's status changes; its lines and draft totals follow the usage, not people.
    (
        "invoices.Invoice",
        {
            "include_fields": [
                "status",
                "number",
                "issued_at",
                "due_date",
                "voided_at",
                "paid_at",
                "reissue_requested",
            ]
        },
    ),
    # Who issued a credit note, and its offsets being used.
    ("invoices.CreditNote", {"exclude_fields": ["pdf_file", "pdf_rendered_at"]}),
    ("billing.ApiKey", {"exclude_fields": ["key_hash", "last_used_at"]}),
    ("payments.Payment", {}),
    ("payments.Refund", {}),
    ("notifications.WebhookEndpoint", {"mask_fields": ["secret"]}),
    ("notifications.EmailTemplate", {}),
]

BOOKKEEPING = ["created_at", "updated_at"]


def audit_register_models() -> None:
    """Register every model of AUDITED that exists (called once from BillingConfig.ready)."""
    for label, options in AUDITED:
        app_label, model_name = label.split(".")
        if not apps.is_installed(app_label):
            continue
        model = apps.get_model(app_label, model_name)
        if auditlog.contains(model):
            continue
        if "include_fields" not in options:
            excluded = [*options.get("exclude_fields", []), *BOOKKEEPING]
            options = {**options, "exclude_fields": excluded}
        auditlog.register(model, **options)


def audit_actor_label(user) -> str | None:
    """What the log shows as the actor of a change: a user's email or username, or the API key."""
    api_key = getattr(user, "api_key", None)
    if api_key is not None:
        return f"API key {api_key.name} ({api_key.prefix}…)"[:254]
    if getattr(user, "is_authenticated", False):
        return user.email or user.get_username()
    return None


class AuditActorMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware, plus the API key as actor. DRF authenticates inside the
    view, after this middleware ran, so the actor label is read when the entry is written."""

    def get_extra_data(self, request):
        context_data = super().get_extra_data(request)

        def additional_data():
            api_key = getattr(getattr(request, "user", None), "api_key", None)
            if api_key is None:
                return None
            return {"api_key_id": api_key.pk, "api_key": api_key.name}

        context_data["actor_email"] = lambda: audit_actor_label(getattr(request, "user", None))
        context_data["additional_data"] = additional_data
        return context_data


def audit_log_issued_invoice(*, invoice) -> None:
    """An invoice the cycle close created already finalized (in bulk, so no save signal ran)
    gets its entry here; one finalized through a save already has its draft → finalized entry."""
    content_type = ContentType.objects.get_for_model(invoice)
    if LogEntry.objects.filter(content_type=content_type, object_pk=str(invoice.pk)).exists():
        return
    LogEntry.objects.log_create(
        invoice, action=LogEntry.Action.CREATE, changes=_issued_changes(invoice)
    )


def audit_log_issued_invoices(*, invoices, created: bool = False) -> None:
    """audit_log_issued_invoice for invoices finalized together: one query for the entries
    that exist (none when the invoices were `created` in this transaction), one bulk insert for
    the rest. Each entry still goes through LogEntry's pre_save signal, where
    django-auditlog's context (set_actor, the middleware) fills in the actor."""
    if not invoices:
        return
    content_type = ContentType.objects.get_for_model(invoices[0])
    logged = set()
    if not created:
        logged = set(
            LogEntry.objects.filter(
                content_type=content_type, object_pk__in=[str(invoice.pk) for invoice in invoices]
            ).values_list("object_pk", flat=True)
        )
    entries = []
    for invoice in invoices:
        if str(invoice.pk) in logged:
            continue
        entry = LogEntry(
            content_type=content_type,
            object_pk=str(invoice.pk),
            object_id=invoice.pk,
            object_repr=smart_str(invoice),
            action=LogEntry.Action.CREATE,
            changes=_issued_changes(invoice),
            cid=get_cid(),
        )
        pre_save.send(sender=LogEntry, instance=entry, raw=False, using=None, update_fields=None)
        entries.append(entry)
    rows_insert(LogEntry, entries)


def _issued_changes(invoice) -> dict:
    return {
        "status": [None, invoice.status],
        "number": [None, invoice.number],
        "issued_at": [None, invoice.issued_at.isoformat() if invoice.issued_at else None],
    }
