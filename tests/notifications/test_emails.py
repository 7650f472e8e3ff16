"""Customer emails (docs/operations.md, "Customer emails"): every kind rendered from its
template in the company's layout, switched on or off and edited by the operator, sent once
on commit, and a "Send test" button."""

import pytest
from django.core import mail
from django.utils import timezone

from customers.services import subscription_cancel, subscription_create
from notifications.models import EmailKind, EmailTemplate, SentEmail
from notifications.services.emails import email_compose, email_sample_context
from tests.factories import CustomerFactory, PlanFactory

pytestmark = pytest.mark.django_db

# kind → what its rendered email must say (beside the company's name).
EXPECTED = {
    EmailKind.INVOICE_FINALIZED: ("Invoice INV-2026-000123 from", "Amount due: $1,600.00"),
    EmailKind.PAYMENT_FAILED: ("Payment for invoice INV-2026-000123 failed", "card was declined"),
    EmailKind.PAYMENT_SUCCEEDED: ("Payment received", "received your payment of 1600.00 USD"),
    EmailKind.QUOTA_WARNING: ("80% of your API calls", "8,000 of the 10,000 API calls"),
    EmailKind.TRIAL_ENDING: ("trial ends on Mar 31, 2026", "Your trial of Pro ends"),
    EmailKind.SUBSCRIPTION_CREATED: ("Welcome to Pro", "subscription to Pro has started"),
    EmailKind.SUBSCRIPTION_CANCELED: ("Pro subscription is canceled", "ends on\nMar 31, 2026"),
    EmailKind.WALLET_LOW_BALANCE: ("credit balance is low", "balance is $8.40, below the $10.00"),
}


def test_every_kind_has_a_template_and_an_expectation():
    assert set(EmailTemplate.objects.values_list("kind", flat=True)) == set(EmailKind.values)
    assert set(EXPECTED) == set(EmailKind.values)


@pytest.mark.parametrize("kind", EmailKind.values)
def test_each_kind_renders_with_the_company_name_and_logo(kind, settings):
    settings.TALLY_COMPANY = {
        **settings.TALLY_COMPANY,
        "name": "Globex Billing",
        "logo_url": "https://globex.example/logo.png",
    }
    message = email_compose(
        kind=kind, to=["billing@acme.example"], context=email_sample_context(kind=kind)
    )
    subject_part, body_part = EXPECTED[kind]
    assert subject_part in message.subject
    assert body_part in message.body
    assert "Hello Acme Corp" in message.body or kind == EmailKind.INVOICE_FINALIZED
    assert "Globex Billing" in message.body or "Globex Billing" in message.subject
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert 'src="https://globex.example/logo.png"' in html and "Globex Billing" in html
    assert "{{" not in message.body and "{%" not in message.body


@pytest.fixture
def customer():
    return CustomerFactory(
        external_id="acme", name="Acme Corp", email="ap@acme.example", currency="USD"
    )


@pytest.fixture
def plan():
    return PlanFactory(code="pro", name="Pro")


def test_subscription_created_and_canceled_emails_go_out_once_on_commit(
    customer, plan, django_capture_on_commit_callbacks
):
    at = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        subscription = subscription_create(customer=customer, plan=plan, started_at=at, at=at)
    with django_capture_on_commit_callbacks(execute=True):
        subscription_cancel(subscription=subscription, at_period_end=True, at=at)

    assert [m.subject for m in mail.outbox] == [
        "Welcome to Pro",
        "Your Pro subscription is canceled",
    ]
    assert mail.outbox[0].to == ["ap@acme.example"]
    assert SentEmail.objects.count() == 2

    from notifications.services.emails import customer_email_send

    again = customer_email_send(
        kind=EmailKind.SUBSCRIPTION_CREATED,
        object_label="customers.Subscription",
        object_pk=subscription.pk,
        at=at,
    )
    assert again is False and len(mail.outbox) == 2


def test_a_switched_off_kind_is_not_sent_and_an_edited_one_is_used(
    customer, plan, django_capture_on_commit_callbacks
):
    EmailTemplate.objects.filter(kind=EmailKind.SUBSCRIPTION_CREATED).update(enabled=False)
    EmailTemplate.objects.filter(kind=EmailKind.SUBSCRIPTION_CANCELED).update(
        subject="So long, {{ customer.name }}", body="Bye from {{ company.name }}"
    )
    at = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        subscription = subscription_create(customer=customer, plan=plan, started_at=at, at=at)
        subscription_cancel(subscription=subscription, at_period_end=False, at=at)
    [message] = mail.outbox
    assert message.subject == "So long, Acme Corp"
    assert message.body == "Bye from Tally Demo Inc.\n"


def test_the_invoice_email_follows_its_template_and_switch():
    from datetime import UTC, datetime

    from invoices.documents import invoice_send_email
    from tests.factories import FinalizedInvoiceFactory

    at = datetime(2026, 4, 1, tzinfo=UTC)
    invoice = FinalizedInvoiceFactory()  # one invoice: its PDF is rendered once
    template = EmailTemplate.objects.filter(kind=EmailKind.INVOICE_FINALIZED)

    template.update(enabled=False)
    assert invoice_send_email(invoice=invoice, at=at) is False
    invoice.refresh_from_db()
    assert invoice.emailed_at is None and mail.outbox == []

    template.update(enabled=True, subject="Your bill {{ doc.number }}")
    assert invoice_send_email(invoice=invoice, at=at) is True
    assert mail.outbox[0].subject == f"Your bill {invoice.number}"
    assert mail.outbox[0].attachments[0][0] == f"{invoice.number}.pdf"


def test_send_test_button_and_template_errors_in_the_admin(admin_client, admin_user):
    admin_user.email = "ops@tally.example"
    admin_user.save()
    template = EmailTemplate.objects.get(kind=EmailKind.PAYMENT_FAILED)
    page = admin_client.get(f"/admin/notifications/emailtemplate/{template.pk}/change/")
    assert "Send test" in page.content.decode()

    response = admin_client.post(f"/admin/notifications/emailtemplate/{template.pk}/send-test/")
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == ["ops@tally.example"]
    assert message.subject == "[Test] Payment for invoice INV-2026-000123 failed"

    response = admin_client.post(
        f"/admin/notifications/emailtemplate/{template.pk}/change/",
        {"enabled": "on", "subject": "Oops {% if %}", "body": "Hi"},
    )
    assert response.status_code == 200
    assert "Template error" in response.content.decode()
    template.refresh_from_db()
    assert template.subject.startswith("Payment for invoice")


def test_trial_ending_reminders_go_out_once_within_the_notice(customer, settings):
    from datetime import timedelta

    from django_q.models import Schedule

    from billing.schedules import schedules_ensure
    from notifications.services.emails import trial_ending_reminders_send

    settings.TRIAL_ENDING_NOTICE_DAYS = 3
    at = timezone.now()
    trial = PlanFactory(code="trial", name="Team", trial_days=14)
    subscription_create(customer=customer, plan=trial, started_at=at - timedelta(days=12), at=at)
    later = CustomerFactory(external_id="later", email="x@later.example", currency="USD")
    subscription_create(customer=later, plan=trial, started_at=at, at=at)  # ends in 14 days
    mail.outbox.clear()

    assert trial_ending_reminders_send(at=at) == 1
    assert trial_ending_reminders_send(at=at + timedelta(hours=1)) == 0
    [message] = mail.outbox
    assert message.to == ["ap@acme.example"]
    assert message.subject.startswith("Your Team trial ends on")

    schedules_ensure()
    assert Schedule.objects.get(name="trial-ending-emails").func == (
        "notifications.tasks.trial_ending_reminders_task"
    )
