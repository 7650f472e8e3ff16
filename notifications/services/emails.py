"""Customer emails from templates the operator switches on or off and edits per kind (docs/
operations.md, "Customer emails"), in the company's layout (name, logo), sent once per kind
and object, on commit, by a django-q2 task."""

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from django.apps import apps
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.template import Context, Template, TemplateSyntaxError
from django.template.loader import render_to_string
from django.utils.html import escape, linebreaks
from django.utils.safestring import mark_safe
from django_q.tasks import async_task

from notifications.email_defaults import ACTIONS, DEFAULTS
from notifications.models import EmailKind, EmailTemplate, SentEmail

logger = logging.getLogger(__name__)

SEND_TASK = "notifications.tasks.customer_email_task"


def email_templates_ensure(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """One template per kind, from the shipped text; an edited template is left alone."""
    for kind, (subject, body, _) in DEFAULTS.items():
        EmailTemplate.objects.using(using).get_or_create(
            kind=kind, defaults={"subject": subject, "body": body}
        )


def email_template_for(*, kind: str) -> EmailTemplate:
    template = EmailTemplate.objects.filter(kind=kind).first()
    if template is None:  # before the first migrate's post_migrate, or deleted by hand
        subject, body, _ = DEFAULTS[kind]
        template = EmailTemplate(kind=kind, subject=subject, body=body)
    return template


def email_template_errors(*, subject: str, body: str) -> dict[str, str]:
    """Template syntax errors, for the admin form (a broken template must not be saved)."""
    errors = {}
    for name, source in (("subject", subject), ("body", body)):
        try:
            Template(source)
        except TemplateSyntaxError as error:
            errors[name] = f"Template error: {error}"
    return errors


def company() -> dict:
    return dict(settings.TALLY_COMPANY)


def email_compose(
    *, kind: str, to: list[str], context: dict, respect_switch: bool = True
) -> EmailMultiAlternatives | None:
    """The email of `kind` for `context`, rendered from its template (None when the operator
    switched it off). The text is the template; the HTML wraps it in the company layout."""
    template = email_template_for(kind=kind)
    if respect_switch and not template.enabled:
        logger.info("Email %s is switched off: not sent to %s", kind, ", ".join(to))
        return None
    values = {"company": company(), **context}
    subject = Template(template.subject).render(Context(values, autoescape=False))
    text = Template(template.body).render(Context(values, autoescape=False)).strip() + "\n"
    label, url_variable = ACTIONS.get(kind, (None, None))
    html = render_to_string(
        "notifications/email/layout.html",
        {
            "company": values["company"],
            "body_html": mark_safe(linebreaks(escape(text))),
            "action_label": label,
            "action_url": values.get(url_variable) if url_variable else None,
        },
    )
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split())[:300],
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        reply_to=[values["company"]["email"]] if values["company"].get("email") else None,
    )
    message.attach_alternative(html, "text/html")
    return message


# --- what each kind is about ---------------------------------------------------------------


def _customer_of(obj):
    if hasattr(obj, "customer"):
        return obj.customer
    if hasattr(obj, "wallet"):
        return obj.wallet.customer  # a wallet transaction (low balance)
    return obj.invoice.customer  # a payment


def _hosted_url(invoice) -> str | None:
    from invoices.documents import invoice_hosted_url

    return invoice_hosted_url(invoice=invoice)


def _subscription_context(subscription) -> dict:
    return {
        "customer": subscription.customer,
        "subscription": subscription,
        "plan": subscription.plan,
    }


def _payment_context(payment) -> dict:
    return {
        "customer": payment.invoice.customer,
        "payment": payment,
        "invoice": payment.invoice,
        "hosted_url": _hosted_url(payment.invoice),
    }


def _wallet_context(transaction_) -> dict:
    """A low-balance warning: the balance right after the transaction that crossed it."""
    from catalog.currencies import money_display
    from customers.selectors import wallet_balance_at

    wallet = transaction_.wallet
    threshold = wallet.low_balance_threshold or 0
    return {
        "customer": wallet.customer,
        "wallet": wallet,
        "balance": money_display(wallet_balance_at(transaction=transaction_), wallet.currency),
        "threshold": money_display(threshold, wallet.currency),
    }


CONTEXTS = {
    EmailKind.SUBSCRIPTION_CREATED: _subscription_context,
    EmailKind.SUBSCRIPTION_CANCELED: _subscription_context,
    EmailKind.TRIAL_ENDING: _subscription_context,
    EmailKind.PAYMENT_FAILED: _payment_context,
    EmailKind.PAYMENT_SUCCEEDED: _payment_context,
    EmailKind.WALLET_LOW_BALANCE: _wallet_context,
}


def customer_email_enqueue(*, kind: str, obj) -> bool:
    """Queue the email of `kind` about `obj` for when the caller's transaction commits; False
    (and nothing queued) when the customer has no address or the kind is switched off."""
    customer = _customer_of(obj)
    if not customer.email or not email_template_for(kind=kind).enabled:
        return False
    label, pk = obj._meta.label, obj.pk
    transaction.on_commit(lambda: async_task(SEND_TASK, kind, label, pk))
    return True


def customer_email_send(*, kind: str, object_label: str, object_pk: int, at: datetime) -> bool:
    """Send the email of `kind` about the object once (a retried task does not send twice)."""
    obj = apps.get_model(object_label)._default_manager.get(pk=object_pk)
    customer = _customer_of(obj)
    if not customer.email:
        return False
    message = email_compose(kind=kind, to=[customer.email], context=CONTEXTS[kind](obj))
    if message is None:
        return False
    try:
        with transaction.atomic():
            claim = SentEmail.objects.create(
                kind=kind,
                object_key=f"{object_label.lower()}:{object_pk}",
                recipient=customer.email,
                subject=message.subject,
                sent_at=at,
            )
    except IntegrityError:
        logger.info("Email %s about %s:%s was already sent", kind, object_label, object_pk)
        return False
    try:
        message.send()
    except Exception:
        claim.delete()
        raise
    return True


# --- samples: "send test" and the tests ----------------------------------------------------


def email_sample_context(*, kind: str) -> dict:
    """Made-up values for every variable of `kind`, to preview a template."""
    customer = SimpleNamespace(name="Acme Corp", external_id="acme", email="billing@acme.example")
    plan = SimpleNamespace(name="Pro", code="pro", version=1)
    moment = datetime(2026, 3, 31, tzinfo=UTC)
    subscription = SimpleNamespace(
        customer=customer,
        plan=plan,
        started_at=moment,
        trial_ends_at=moment,
        current_period_end=moment,
        cancel_at=moment,
        ended_at=None,
    )
    invoice = SimpleNamespace(number="INV-2026-000123", amount_due="1600.00", currency="USD")
    payment = SimpleNamespace(
        amount="1600.00", currency="USD", failure_message="Your card was declined."
    )
    hosted_url = f"{settings.PUBLIC_BASE_URL}/i/sample"
    return {
        "customer": customer,
        "plan": plan,
        "subscription": subscription,
        "invoice": invoice,
        "payment": payment,
        "hosted_url": hosted_url,
        "pdf_url": f"{hosted_url}/pdf",
        "doc": SimpleNamespace(
            number="INV-2026-000123",
            customer_name="Acme Corp",
            amount_due="$1,600.00",
            total="$1,600.00",
            due_date="Apr 30, 2026",
            period="Mar 1 – Mar 31, 2026",
        ),
        "wallet": SimpleNamespace(currency="USD"),
        "balance": "$8.40",
        "threshold": "$10.00",
        "feature": "API calls",
        "usage": "8,000",
        "limit": "10,000",
        "percent": 80,
        "period_end": moment,
    }


def email_send_test(*, kind: str, to: str) -> None:
    """Send the template of `kind` (even when switched off) with sample values to `to`."""
    message = email_compose(
        kind=kind, to=[to], context=email_sample_context(kind=kind), respect_switch=False
    )
    message.subject = f"[Test] {message.subject}"
    message.send()


# --- reminders -----------------------------------------------------------------------------


def trial_ending_reminders_send(*, at: datetime) -> int:
    """Send "trial ending" to each trialing subscription whose trial ends within
    TRIAL_ENDING_NOTICE_DAYS of `at` (once per subscription); the number sent."""
    from customers.models import Subscription, SubscriptionStatus

    if not email_template_for(kind=EmailKind.TRIAL_ENDING).enabled:
        return 0
    horizon = at + timedelta(days=settings.TRIAL_ENDING_NOTICE_DAYS)
    due = (
        Subscription.objects.filter(
            status=SubscriptionStatus.TRIALING, trial_ends_at__gt=at, trial_ends_at__lte=horizon
        )
        .exclude(customer__email="")
        .order_by("pk")
    )
    already = set(
        SentEmail.objects.filter(kind=EmailKind.TRIAL_ENDING).values_list("object_key", flat=True)
    )
    sent = 0
    for subscription_id in list(due.values_list("pk", flat=True)):
        if f"customers.subscription:{subscription_id}" in already:
            continue
        sent += customer_email_send(
            kind=EmailKind.TRIAL_ENDING,
            object_label="customers.Subscription",
            object_pk=subscription_id,
            at=at,
        )
    return sent
