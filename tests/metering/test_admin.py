"""The event debugger and the usage explorer, as an operator sees them in the admin."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from metering.links import event_drilldown_url
from metering.models import Event
from tests.factories import (
    ChargeFactory,
    CustomerFactory,
    MeterFactory,
    PlanFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/metering/event/"
EXPLORER = "/admin/metering/event/explorer/"
DAY = datetime(2026, 3, 10, tzinfo=UTC)


def event(event_id, name, customer, hours=0, **properties):
    return {
        "event_id": event_id,
        "event_name": name,
        "external_customer_id": customer,
        "timestamp": (DAY + timedelta(hours=hours)).isoformat(),
        "properties": properties,
    }


@pytest.fixture
def story(store):
    """acme on a plan charging credits; globex exists without subscription; ghost is unknown."""
    credits = MeterFactory(
        code="credits",
        name="Credits",
        event_name="credits_used",
        aggregation="sum",
        field="credits",
        filters={"env": ["prod"]},
        group_by="workspace",
    )
    plan = PlanFactory(code="pro")
    ChargeFactory(plan=plan, meter=credits, unit_amount=Decimal("0.25"))
    SubscriptionFactory(
        customer=CustomerFactory(external_id="acme"),
        plan=plan,
        started_at=DAY - timedelta(days=5),
        at=DAY + timedelta(days=2),
    )
    CustomerFactory(external_id="globex")
    store(
        [
            event("ok-1", "credits_used", "acme", 1, credits=5, env="prod", workspace="w1"),
            event("ok-2", "credits_used", "acme", 3, credits="2.5", env="prod", workspace="w2"),
            event("ok-3", "credits_used", "acme", 26, credits=1, env="prod", workspace="w1"),
            event("bad-value", "credits_used", "acme", 2, credits="lots", env="prod"),
            event("no-field", "credits_used", "acme", 2, env="prod"),
            event("staging", "credits_used", "acme", 2, credits=9, env="staging"),
            event("typo", "credit_used", "acme", 2, credits=1, env="prod"),
            event("ghost-1", "credits_used", "ghost", 2, credits=1, env="prod"),
            event("globex-1", "credits_used", "globex", 2, credits=1, env="prod"),
        ],
        at=DAY + timedelta(days=2),
    )
    return credits


def rows(html: str) -> list[str]:
    return re.findall(r"<tr[^>]*>.*?</tr>", html, flags=re.S)


def row_of(html: str, event_id: str) -> str:
    return next(row for row in rows(html) if f">{event_id}<" in row)


def test_the_list_shows_each_event_with_its_status(admin_client, story):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Counted and billed" in row_of(html, "ok-1")
    assert "2026-03-10 01:00:00" in row_of(html, "ok-1")
    assert "refused by its meters" in row_of(html, "bad-value")
    assert "refused by its meters" in row_of(html, "staging")
    assert "no meter for its name" in row_of(html, "typo")
    assert "Unknown customer" in row_of(html, "ghost-1")
    assert "without a subscription" in row_of(html, "globex-1")
    assert "Usage explorer" in html
    assert "Add event" not in html


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("counted", {"ok-1", "ok-2", "ok-3"}),
        ("not_counted", {"bad-value", "no-field", "staging"}),
        ("no_meter", {"typo"}),
        ("unknown_customer", {"ghost-1"}),
        ("no_subscription", {"globex-1"}),
        ("late", {"ok-2"}),
    ],
)
def test_status_filter(admin_client, story, status, expected):
    Event.objects.filter(event_id="ok-2").update(is_late=True)
    html = admin_client.get(CHANGELIST, {"status": status}).content.decode()
    shown = {
        event_id
        for event_id in Event.objects.values_list("event_id", flat=True)
        if f">{event_id}<" in html
    }
    assert shown == expected


def test_drilldown_link_lists_exactly_the_counted_events(admin_client, story):
    url = event_drilldown_url(
        meter=story, external_customer_id="acme", start=DAY, end=DAY + timedelta(days=1)
    )
    assert url.startswith(
        "/admin/metering/event/?external_customer_id=acme&event_name=credits_used"
    )
    assert "meter=credits" in url
    response = admin_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    shown = {
        event_id
        for event_id in Event.objects.values_list("event_id", flat=True)
        if f">{event_id}<" in html
    }
    assert shown == {"ok-1", "ok-2"}


def test_search_by_customer(admin_client, story):
    html = admin_client.get(CHANGELIST, {"q": "ghost"}).content.decode()
    assert ">ghost-1<" in html and ">ok-1<" not in html


def test_search_by_event_id_when_no_customer_has_that_id(admin_client, story):
    html = admin_client.get(CHANGELIST, {"q": "typo"}).content.decode()
    assert ">typo<" in html and ">ok-1<" not in html


def test_pages_go_on_without_counting_the_events(admin_client, story, monkeypatch):
    """9 events, 4 a page: page 1 and 2 say more follow, the last page gives the total."""
    from metering.admin.events import EventAdmin

    monkeypatch.setattr(EventAdmin, "list_per_page", 4)
    first = admin_client.get(CHANGELIST).content.decode()
    assert len(re.findall(r'class="field-status"', first)) == 4
    assert "page 1, more on the next page" in first
    assert "?p=2" in first and "?p=3" not in first
    last = admin_client.get(CHANGELIST, {"p": 3}).content.decode()
    assert len(re.findall(r'class="field-status"', last)) == 1
    assert "9 events" in last
    shown = set()
    for page in (1, 2, 3):
        html = admin_client.get(CHANGELIST, {"p": page}).content.decode()
        shown |= {e for e in Event.objects.values_list("event_id", flat=True) if f">{e}<" in html}
    assert len(shown) == 9


def test_detail_explains_a_non_numeric_value(admin_client, story):
    pk = Event.objects.get(event_id="bad-value").pk
    html = admin_client.get(f"{CHANGELIST}{pk}/change/").content.decode()
    assert "Not counted: refused by its meters" in html
    assert "Not counted: credits = &#x27;lots&#x27; is not a number." in html
    assert "Subscription #" in html and "<code>pro</code>" in html


def test_detail_explains_missing_field_filter_and_counted(admin_client, story):
    pk = Event.objects.get(event_id="no-field").pk
    html = admin_client.get(f"{CHANGELIST}{pk}/change/").content.decode()
    assert "the property &#x27;credits&#x27; is missing" in html
    pk = Event.objects.get(event_id="staging").pk
    html = admin_client.get(f"{CHANGELIST}{pk}/change/").content.decode()
    assert "Filtered out: env is &#x27;staging&#x27;, not one of prod." in html
    pk = Event.objects.get(event_id="ok-2").pk
    html = admin_client.get(f"{CHANGELIST}{pk}/change/").content.decode()
    assert "Counted and billed" in html
    assert "Counted: credits = 2.5 (Sum)." in html
    assert "charged" in html


def test_detail_explains_unknown_customer_and_unknown_event_name(admin_client, story):
    pk = Event.objects.get(event_id="ghost-1").pk
    html = admin_client.get(f"{CHANGELIST}{pk}/change/").content.decode()
    assert "No customer has the external id &#x27;ghost&#x27; (yet)" in html
    pk = Event.objects.get(event_id="typo").pk
    html = admin_client.get(f"{CHANGELIST}{pk}/change/").content.decode()
    assert "No meter listens to the event name &#x27;credit_used&#x27;." in html
    assert "<code>credits_used</code>" in html  # the similar name a meter listens to


def test_usage_explorer_draws_the_chart(admin_client, story):
    response = admin_client.get(
        EXPLORER,
        {
            "meter": "credits",
            "customer": "acme",
            "start": "2026-03-10T00:00",
            "end": "2026-03-12T00:00",
            "bucket": "hour",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert '<svg class="metering-chart"' in html
    assert html.count('class="bar"') == 48
    assert "<strong>8.5</strong>" in html  # 5 + 2.5 + 1
    assert "from 3 counted events" in html
    assert "By workspace" in html and "<td>w1</td><td>6</td><td>2</td>" in html
    assert "See these events" in html


def test_usage_explorer_refuses_a_bad_range(admin_client, story):
    html = admin_client.get(
        EXPLORER,
        {
            "meter": "credits",
            "customer": "acme",
            "start": "2026-03-12T00:00",
            "end": "2026-03-10T00:00",
            "bucket": "day",
        },
    ).content.decode()
    assert "The end must be after the start." in html
    assert "metering-chart" not in html


def test_usage_explorer_needs_the_view_permission(client, story):
    User.objects.create_user("clerk", password="pw", is_staff=True)
    client.login(username="clerk", password="pw")
    assert client.get(EXPLORER).status_code == 403
    assert client.get(reverse("admin:metering_event_changelist")).status_code == 403


def test_detail_says_when_the_plan_does_not_charge_the_counting_meter(admin_client, story, store):
    MeterFactory(code="tokens", event_name="llm_tokens", aggregation="sum", field="tokens")
    store([event("tok-1", "llm_tokens", "acme", 2, tokens=1200)], at=DAY + timedelta(days=2))
    pk = Event.objects.get(event_id="tok-1").pk
    html = admin_client.get(f"{CHANGELIST}{pk}/change/").content.decode()
    assert "The plan &#x27;pro&#x27; has no charge on the meters counting it." in html
    assert "no charge" in html


def test_explorer_link_from_the_detail_page_opens_that_day(admin_client, story):
    pk = Event.objects.get(event_id="ok-1").pk
    html = admin_client.get(f"{CHANGELIST}{pk}/change/").content.decode()
    link = re.search(r'href="(/admin/metering/event/explorer/\?[^"]+)"', html).group(1)
    page = admin_client.get(link.replace("&amp;", "&")).content.decode()
    assert html.count("explore that day") == 1
    assert "<strong>7.5</strong>" in page  # ok-1 (5) and ok-2 (2.5) on March 10


@pytest.fixture
def one_by_one(story):
    """The story's events received one minute apart, in the order of their ids' list below
    (the oldest first): the typo'd event and the late one are the oldest."""
    order = ["typo", "ok-2", "ok-1", "ok-3", "bad-value", "no-field", "staging", "ghost-1"]
    order.append("globex-1")
    start = DAY + timedelta(days=2)
    for minutes, event_id in enumerate(order):
        Event.objects.filter(event_id=event_id).update(
            received_at=start + timedelta(minutes=minutes)
        )
    Event.objects.filter(event_id="ok-2").update(is_late=True)
    return story


def shown_ids(html: str) -> set[str]:
    return {e for e in Event.objects.values_list("event_id", flat=True) if f">{e}<" in html}


def test_a_status_filter_searches_only_the_newest_events_and_says_so(
    admin_client, one_by_one, monkeypatch
):
    from metering.admin.events import EventAdmin

    monkeypatch.setattr(EventAdmin, "status_window", 4)
    html = admin_client.get(CHANGELIST, {"status": "no_meter"}).content.decode()
    assert shown_ids(html) == set()  # the typo'd event is older than the newest 4
    assert (
        "“Not counted: no meter for its name” is searched among the newest 4 events of this "
        "list, received since 2026-03-12 00:05:00 UTC." in html
    )
    assert "narrow the list by date, customer or event name" in html
    html = admin_client.get(CHANGELIST, {"status": "not_counted"}).content.decode()
    # The newest 4: globex-1, ghost-1, staging, no-field; bad-value is the 5th newest.
    assert shown_ids(html) == {"no-field", "staging"}


def test_narrowing_the_list_moves_the_status_window_to_its_own_newest_events(
    admin_client, one_by_one, monkeypatch
):
    from metering.admin.events import EventAdmin

    monkeypatch.setattr(EventAdmin, "status_window", 4)
    html = admin_client.get(CHANGELIST, {"status": "no_meter", "q": "acme"}).content.decode()
    assert shown_ids(html) == set()  # acme's newest 4 do not reach back to the typo
    html = admin_client.get(
        CHANGELIST, {"status": "no_meter", "event_name": "credit_used"}
    ).content.decode()
    assert shown_ids(html) == {"typo"}
    assert "metering-status-window" not in html  # one event in that list: all searched
    html = admin_client.get(
        CHANGELIST, {"status": "counted", "timestamp__lt": "2026-03-10T02:00:00+00:00"}
    ).content.decode()
    assert shown_ids(html) == {"ok-1"}


def test_the_late_filter_finds_every_late_event_whatever_the_window(
    admin_client, one_by_one, monkeypatch
):
    from metering.admin.events import EventAdmin

    monkeypatch.setattr(EventAdmin, "status_window", 1)
    html = admin_client.get(CHANGELIST, {"status": "late"}).content.decode()
    assert shown_ids(html) == {"ok-2"}
    assert "metering-status-window" not in html


def test_selected_events_export_to_csv_from_the_list(admin_client, story):
    ghost = Event.objects.get(event_id="ghost-1")
    html = admin_client.get(CHANGELIST).content.decode()
    assert (
        f'<input type="checkbox" name="_selected_action" value="{ghost.pk}" '
        'class="action-select" aria-label="Select this object for an action - '
        f'credits_used · ghost · ghost-1">' in html
    )
    response = admin_client.post(
        CHANGELIST, {"action": "export_selected_csv", "_selected_action": [ghost.pk]}
    )
    assert response["Content-Type"] == "text/csv"
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 2 and ",ghost-1,credits_used,ghost," in lines[1]


def test_show_all_still_shows_one_page_of_events(admin_client, story, monkeypatch):
    """A "show all" of millions of events is no page: the list keeps to its page."""
    from metering.admin.events import EventAdmin

    monkeypatch.setattr(EventAdmin, "list_per_page", 4)
    html = admin_client.get(CHANGELIST, {"all": ""}).content.decode()
    assert len(re.findall(r'class="field-status"', html)) == 4
    assert "page 1, more on the next page" in html
