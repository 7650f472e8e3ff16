"""The operator's invoice pages: list, invoice page with lines and event links, actions, and the
upcoming invoice on the customer page."""

import pytest
from django.contrib.auth.models import Permission, User

from invoices.models import Invoice
from invoices.services import cycles_close
from tests.invoices.helpers import customer, pro_plan, scale_plan, send, subscribe, utc

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoices():
    subscribe(customer("acme"), pro_plan(), started_at=utc(2026, 3, 1))
    send("acme", "api_call", utc(2026, 3, 3), count=1000)
    subscribe(
        customer("bigco", name="Big Co", invoice_grace_period_hours=48),
        scale_plan(),
        started_at=utc(2026, 3, 1),
    )
    send("bigco", "api_call", utc(2026, 3, 3), count=1500)
    cycles_close(at=utc(2026, 4, 1))
    return {
        invoice.customer.external_id + invoice.status: invoice for invoice in Invoice.objects.all()
    }


def test_invoice_list_shows_numbers_customers_totals_and_filters(admin_client, invoices):
    page = admin_client.get("/admin/invoices/invoice/").content.decode()
    assert "INV-2026-000001" in page and "INV-2026-000002" in page
    assert "Acme Inc." in page and "Big Co" in page
    assert "$2,374.00" in page  # Big Co's draft: 1000 × 1.50 + 500 × 1.35 + April's $199
    assert "Mar 1 – Mar 31, 2026" in page  # the period as dates

    drafts = admin_client.get("/admin/invoices/invoice/?status__exact=draft").content.decode()
    assert "Big Co" in drafts and "Acme Inc." not in drafts
    found = admin_client.get("/admin/invoices/invoice/?q=INV-2026-000002").content.decode()
    assert "INV-2026-000002" in found and "INV-2026-000001" not in found


def test_invoice_page_shows_lines_breakdowns_and_the_events_behind_usage(admin_client, invoices):
    draft = invoices["bigcodraft"]

    page = admin_client.get(f"/admin/invoices/invoice/{draft.pk}/change/").content.decode()

    assert "1 – 1000 @ 1.50" in page and "1001 and above @ 1.35" in page
    assert "$2,175.00" in page and "$2,374.00" in page
    assert "Events behind this line" in page
    assert "/admin/metering/event/?external_customer_id=bigco&amp;event_name=api_call" in page
    assert "timestamp__gte=2026-03-01T00%3A00%3A00Z" in page
    assert "invoice-action-finalize" in page and "invoice-action-void" in page
    assert "invoice-action-mark-uncollectible" not in page


def test_finalize_from_the_invoice_page_and_refuse_it_twice(admin_client, invoices):
    draft = invoices["bigcodraft"]
    url = f"/admin/invoices/invoice/{draft.pk}/finalize/"

    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url, follow=True)

    draft.refresh_from_db()
    assert (draft.status, draft.number) == ("finalized", "INV-2026-000003")
    assert "Invoice INV-2026-000003 finalized." in response.content.decode()
    again = admin_client.post(url, follow=True).content.decode()
    assert "only a draft can be finalized" in again


def test_list_actions_apply_one_service_per_invoice_and_report_refusals(admin_client, invoices):
    ids = [str(invoice.pk) for invoice in Invoice.objects.all()]
    response = admin_client.post(
        "/admin/invoices/invoice/",
        {"action": "finalize_selected", "_selected_action": ids},
        follow=True,
    )

    page = response.content.decode()
    assert "1 invoice(s) finalized: INV-2026-000003." in page
    assert page.count("only a draft can be finalized") == 2
    assert set(Invoice.objects.values_list("status", flat=True)) == {"finalized"}

    admin_client.post(
        "/admin/invoices/invoice/",
        {"action": "void_selected", "_selected_action": ids},
    )
    assert set(Invoice.objects.values_list("status", flat=True)) == {"void"}


def test_a_viewer_sees_invoices_but_cannot_act(client, invoices):
    viewer = User.objects.create_user("viewer", password="secret-pass-123", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_invoice"),
        Permission.objects.get(codename="view_customer"),
    )
    client.force_login(viewer)
    draft = invoices["bigcodraft"]

    page = client.get(f"/admin/invoices/invoice/{draft.pk}/change/").content.decode()
    assert "$2,374.00" in page and "invoice-action-finalize" not in page
    assert client.post(f"/admin/invoices/invoice/{draft.pk}/finalize/").status_code == 403
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_customer_page_links_the_upcoming_invoice_and_lists_invoices(admin_client, invoices):
    acme = invoices["acmefinalized"].customer
    send("acme", "api_call", utc(2026, 4, 2), count=300, at=utc(2026, 4, 2))

    page = admin_client.get(f"/admin/customers/customer/{acme.pk}/change/").content.decode()
    assert "Upcoming invoice" in page and "Latest invoices" in page
    assert "INV-2026-000001" in page and "$39.00" in page

    upcoming = admin_client.get(
        f"/admin/customers/customer/{acme.pk}/upcoming-invoice/"
    ).content.decode()
    assert "Upcoming invoice — $32.00" in upcoming  # 300 calls × 0.01 + $29 fee
    assert "Apr 1 – Apr 30, 2026" in upcoming


def test_upcoming_invoice_page_without_subscription_says_so(admin_client):
    idle = customer("idle")
    page = admin_client.get(f"/admin/customers/customer/{idle.pk}/upcoming-invoice/")
    assert page.status_code == 200
    assert "has no active subscription" in page.content.decode()
