"""`manage.py ingest_events FILE.jsonl`: a summary; a bad line never stops the good ones."""

import io

import pytest
from django.core.management import CommandError, call_command

from metering.models import Event

pytestmark = pytest.mark.django_db

GOOD = (
    '{{"event_id": "{0}", "event_name": "api_call", "external_customer_id": "acme",'
    ' "timestamp": "2026-03-01T12:00:00Z", "properties": {{"ms": 0.1}}}}'
)


def run(tmp_path, text: str) -> tuple[str, str]:
    path = tmp_path / "events.jsonl"
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    call_command("ingest_events", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_backfill_reports_accepted_duplicates_and_rejected_lines(tmp_path):
    lines = [
        GOOD.format("a"),
        GOOD.format("b"),
        "{not json",
        "",
        GOOD.format("a"),
        '{"event_id": "c", "event_name": "api_call", "external_customer_id": "acme",'
        ' "timestamp": "2026-03-01 12:00"}',
        '{"event_id": "d", "event_name": "api_call", "external_customer_id": "acme", "x": 1}',
        GOOD.format("e"),
    ]
    out, err = run(tmp_path, "\n".join(lines) + "\n")
    assert "accepted 3, duplicates 1, rejected 3 (of 8 lines)" in out
    assert "line 3: not valid JSON" in out
    assert "line 6: timestamp: Needs a UTC offset" in out
    assert "line 7: x: Unknown field." in out
    assert "100.0%" in err
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["a", "b", "e"]


def test_backfill_is_idempotent_and_spans_chunks(tmp_path):
    text = "\n".join(GOOD.format(f"e{n}") for n in range(2500)) + "\n"
    out, _ = run(tmp_path, text)
    assert "accepted 2500, duplicates 0, rejected 0" in out
    out, _ = run(tmp_path, text)
    assert "accepted 0, duplicates 2500, rejected 0" in out
    assert Event.objects.count() == 2500


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("ingest_events", str(tmp_path / "nope.jsonl"))
