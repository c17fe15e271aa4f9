from __future__ import annotations

import json
from pathlib import Path

from services.shared.publish import parse_lines
from tests.malformed import CASES, metrics

LIMIT = 64 * 1024
REPO_ROOT = Path(__file__).resolve().parents[3]


def test_examples_file_is_all_valid(examples_path) -> None:  # type: ignore[no-untyped-def]
    good, errors = parse_lines(examples_path.read_text().splitlines(), max_bytes=LIMIT)
    assert errors == []
    assert len(good) == len(examples_path.read_text().splitlines())


def test_topic_and_key_follow_from_a_bare_event() -> None:
    (out,), errors = parse_lines([json.dumps(metrics())], max_bytes=LIMIT)
    assert errors == []
    assert (out.topic, out.key) == ("crm.seller-metrics", "seller-th-001")


def test_every_bad_line_is_reported_with_its_number() -> None:
    lines = [c.line_text() for c in CASES if c.line and c.raw is not None]
    good, errors = parse_lines(["", json.dumps(metrics()), *lines], max_bytes=LIMIT)
    assert len(good) == 1
    assert len(errors) == len(lines)
    for number, (error, case) in enumerate(
        zip(errors, [c for c in CASES if c.line and c.raw is not None], strict=True), start=3
    ):
        assert error.startswith(f"line {number}: ")
        assert case.reason.lower() in error.lower(), error


def test_key_that_contradicts_the_event_is_refused() -> None:
    line = json.dumps({"topic": "crm.seller-metrics", "key": "seller-other", "value": metrics()})
    _, (error,) = parse_lines([line], max_bytes=LIMIT)
    assert "does not match seller_id" in error


def test_unknown_topic_is_refused() -> None:
    line = json.dumps({"topic": "crm.nope", "key": "k", "value": metrics()})
    _, (error,) = parse_lines([line], max_bytes=LIMIT)
    assert "crm.nope" in error


def test_a_bare_campaign_announcement_goes_to_crm_campaigns_keyed_by_its_id() -> None:
    example = (REPO_ROOT / "schemas" / "examples" / "campaigns.jsonl").read_text()
    value = json.loads(example.splitlines()[0])["value"]

    (out,), errors = parse_lines([json.dumps(value)], max_bytes=LIMIT)
    assert errors == []
    assert (out.topic, out.key) == ("crm.campaigns", value["campaign_id"])

    _, (error,) = parse_lines(
        [json.dumps({**value, "ends_at": value["starts_at"]})], max_bytes=LIMIT
    )
    assert "ends_at" in error


def test_times_are_judged_against_now_the_timestamp_the_record_will_get() -> None:
    from datetime import UTC, datetime

    now = datetime(2024, 6, 2, 12, 0, tzinfo=UTC)
    soon = json.dumps(metrics(occurred_at="2024-06-03T11:00:00+00:00"))
    late = json.dumps(metrics(occurred_at="2024-06-03T13:00:00+00:00"))
    good, errors = parse_lines([soon, late], max_bytes=LIMIT, now=now)
    assert [str(o.event.occurred_at) for o in good] == ["2024-06-03 11:00:00+00:00"]
    assert errors == [
        "line 2: occurred_at: 2024-06-03T13:00:00+00:00 is more than 1 day after the "
        "record's timestamp 2024-06-02T12:00:00+00:00"
    ]
