"""Meters over the API (docs/api.md): create, list, read, change, and the refusals."""

import pytest

from catalog.models import Meter

URL = "/api/v1/meters"
TOKENS = {
    "code": "tokens",
    "name": "LLM tokens",
    "event_name": "llm_tokens",
    "aggregation": "sum",
    "field": "tokens",
    "filters": {"model": ["gpt-4", "gpt-4o"]},
    "unit": "token",
    "reset": "period",
}


def test_create_meter(api_client):
    response = api_client.post(URL, TOKENS, format="json")

    assert response.status_code == 201, response.json()
    assert {k: response.json()[k] for k in TOKENS} == TOKENS
    meter = Meter.objects.get()
    assert (meter.code, meter.aggregation, meter.field) == ("tokens", "sum", "tokens")


def test_count_meter_needs_only_the_required_fields(api_client):
    body = {
        "code": "api_calls",
        "name": "API calls",
        "event_name": "api_call",
        "aggregation": "count",
    }

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 201
    assert (response.json()["field"], response.json()["reset"], response.json()["filters"]) == (
        "",
        "period",
        {},
    )


def test_list_and_get_meters(api_client):
    api_client.post(URL, TOKENS, format="json")

    assert [m["code"] for m in api_client.get(URL).json()] == ["tokens"]
    assert api_client.get(f"{URL}/tokens").json()["event_name"] == "llm_tokens"
    assert api_client.get(f"{URL}/nope").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"aggregation": "sum", "field": ""}, "field"),
        ({"aggregation": "median"}, "aggregation"),
        ({"filters": {"model": "gpt-4"}}, "filters"),
        ({"filters": ["gpt-4"]}, "filters"),
        ({"reset": "sometimes"}, "reset"),
        ({"code": "has spaces"}, "code"),
        ({"colour": "red"}, "colour"),
        ({"id": 5}, "id"),
    ],
)
def test_invalid_meter_is_400_and_not_saved(api_client, changes, field):
    response = api_client.post(URL, {**TOKENS, **changes}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Meter.objects.count() == 0


def test_duplicate_meter_code_is_a_conflict(api_client):
    api_client.post(URL, TOKENS, format="json")

    response = api_client.post(URL, {**TOKENS, "name": "Other"}, format="json")

    assert response.status_code == 409
    assert Meter.objects.get().name == "LLM tokens"


def test_patch_changes_a_meter(api_client):
    api_client.post(URL, TOKENS, format="json")

    response = api_client.patch(
        f"{URL}/tokens", {"name": "Tokens", "unit": "1k tokens"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["unit"]) == ("Tokens", "1k tokens")
    assert Meter.objects.get().name == "Tokens"


def test_patch_cannot_change_the_code(api_client):
    api_client.post(URL, TOKENS, format="json")

    response = api_client.patch(f"{URL}/tokens", {"code": "other"}, format="json")

    assert response.status_code == 400
    assert "code" in response.json()
    assert Meter.objects.get().code == "tokens"


def test_meter_of_a_plan_in_use_keeps_its_counting_rules(api_client, demo_catalog, put_in_use):
    from catalog.selectors import plan_latest

    put_in_use(plan_latest(code="growth"))

    locked = api_client.patch(f"{URL}/api_calls", {"event_name": "request"}, format="json")
    renamed = api_client.patch(f"{URL}/api_calls", {"name": "Requests"}, format="json")

    assert locked.status_code == 400
    assert "growth v1" in locked.json()["event_name"][0]
    assert renamed.status_code == 200
    meter = Meter.objects.get(code="api_calls")
    assert (meter.event_name, meter.name) == ("api_call", "Requests")
