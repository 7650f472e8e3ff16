""" "Export CSV" on every list (docs/operations.md, "The console"): the whole list, as filtered
and searched on its page, for whoever may view it."""

from datetime import UTC, datetime

import pytest

from invoices.services import cycles_close
from tests.invoices.helpers import customer, pro_plan, send, subscribe

pytestmark = pytest.mark.django_db


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def _rows(response) -> list[str]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    return b"".join(response.streaming_content).decode().splitlines()


def test_every_list_links_its_export_and_the_export_keeps_the_filters(admin_client):
    plan = pro_plan()
    for external_id in ("acme", "globex"):
        subscribe(customer(external_id), plan, started_at=utc(2026, 3, 1))
        send(external_id, "api_call", utc(2026, 3, 2), count=3)
    cycles_close(at=utc(2026, 4, 1))

    page = admin_client.get("/admin/invoices/invoice/?q=globex").content.decode()
    assert 'href="/admin/export/invoices/invoice/?q=globex" class="console-export"' in page

    every = _rows(admin_client.get("/admin/export/invoices/invoice/"))
    assert every[0].startswith("id,created_at,updated_at,customer_id") and len(every) == 3
    searched = _rows(admin_client.get("/admin/export/invoices/invoice/", {"q": "globex"}))
    assert len(searched) == 2
    events = _rows(
        admin_client.get("/admin/export/metering/event/", {"external_customer_id": "acme"})
    )
    assert len(events) == 1 + 3


def test_the_export_refuses_unknown_lists_and_filters(admin_client, client, django_user_model):
    assert admin_client.get("/admin/export/nothing/here/").status_code == 404
    assert (
        admin_client.get("/admin/export/invoices/invoice/", {"nonsense__x": "1"}).status_code == 400
    )
    client.force_login(django_user_model.objects.create_user("staff", is_staff=True))
    assert client.get("/admin/export/invoices/invoice/").status_code == 403
