"""Which dead letters a filter selects, how they group, and which may be re-driven."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from schemas.dead_letter import DeadLetter
from services.ops.dead_letters import counts, find, judge, parse_since, select
from services.shared.dead_letter_reasons import reason_of
from services.shared.settings import Settings

pytestmark = pytest.mark.unit

SETTINGS = Settings(topic_prefix="p.")
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
VALID = {
    "event_type": "ShopFollowed",
    "schema_version": 1,
    "event_id": "5f0c3a52-6f6b-4e59-9d57-1c2f3f9b8a10",
    "occurred_at": "2026-06-01T10:00:00+00:00",
    "seller_id": "s-1",
    "customer_id": "c-1",
}


def _letter(raw: str, error: str, *, key: str | None = "s-1", hours_ago: int = 1) -> DeadLetter:
    return DeadLetter(
        event_id=uuid.uuid4(),
        occurred_at=NOW - timedelta(hours=hours_ago),
        source_topic="p.crm.customer-activity",
        partition=0,
        offset=7,
        key=key,
        raw=raw,
        error=error,
        service="customers",
    )


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("invalid JSON: expected value at line 1 column 1", "invalid_json"),
        ("not UTF-8: invalid start byte at byte 0", "not_utf8"),
        ("payload too large: 70000 bytes > 65536", "too_large"),
        ("empty value (a tombstone is not an event)", "empty"),
        ("event_type: unknown event type 'Nope' (expected one of A)", "event_type"),
        ("ses: Input should be less than or equal to 5 (got 7)", "schema"),
        ("unknown seller seller-unknown", "rejected"),
    ],
)
def test_reasons_are_a_few_stable_words(error: str, reason: str) -> None:
    assert reason_of(error) == reason


def test_select_by_topic_time_and_reason_then_count() -> None:
    old = _letter("{", "invalid JSON: x", hours_ago=48)
    new = _letter("{", "invalid JSON: y")
    refused = _letter(json.dumps(VALID), "unknown seller s-1")
    letters = [old, new, refused]

    assert select(letters, SETTINGS, topic="crm.customer-activity") == letters
    assert select(letters, SETTINGS, topic="crm.seller-metrics") == []
    assert select(letters, SETTINGS, since=parse_since("1d", NOW)) == [new, refused]
    assert select(letters, SETTINGS, reason="JSON") == [old, new]
    assert select(letters, SETTINGS, reason="unknown seller") == [refused]
    assert counts(letters) == {("invalid_json", "customers"): 2, ("rejected", "customers"): 1}
    assert find(letters, str(refused.event_id)[:8]) == refused


def test_only_a_letter_that_passes_validation_now_and_was_not_redriven_is_redriven() -> None:
    passes = _letter(json.dumps(VALID), "payload too large: 300 bytes > 200")
    broken = _letter("{", "invalid JSON: x")
    wrong_key = _letter(json.dumps(VALID), "key", key="s-2")

    assert judge(passes, SETTINGS, set()).outcome == "redrive"
    assert judge(passes, SETTINGS, {str(passes.event_id)}).outcome == "done"
    assert judge(broken, SETTINGS, set()).outcome == "invalid"
    assert "key" in judge(wrong_key, SETTINGS, set()).detail
