"""What a record must be beyond its schema: plausible times, judged against the record's
own timestamp, and the Kafka key its topic names (SPEC section 6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from services.shared.admission import Plausibility, admit
from services.shared.codec import DecodeError
from tests.malformed import metrics

RULE = Plausibility()
# A record written long ago: a replay today must decide exactly as the first reading did.
RECORDED = datetime(2024, 6, 2, 12, 0, tzinfo=UTC)


def _admit(key: bytes | None = b"seller-th-001", at: datetime = RECORDED, **fields: object):  # type: ignore[no-untyped-def]
    return admit(
        "crm.seller-metrics",
        json.dumps(metrics(**fields)).encode(),
        key=key,
        timestamp_ms=int(at.timestamp() * 1000),
        max_bytes=64 * 1024,
        rule=RULE,
    )


def _reason(**kwargs: object) -> str:
    with pytest.raises(DecodeError) as caught:
        _admit(**kwargs)  # type: ignore[arg-type]
    return caught.value.reason


@pytest.mark.parametrize(
    ("occurred_at", "fragment"),
    [
        ("0001-01-01T00:00:00+00:00", "before 2000-01-01"),
        ("0001-01-01T00:00:00+14:00", "before 2000-01-01"),
        ("1999-12-31T23:59:59+00:00", "before 2000-01-01"),
        ("9999-12-31T23:59:59-14:00", "more than 1 day after the record's timestamp"),
        ("2100-01-01T00:00:00+00:00", "more than 1 day after"),
        ("2024-06-03T12:00:01+00:00", "more than 1 day after"),
    ],
)
def test_implausible_occurred_at_is_refused(occurred_at: str, fragment: str) -> None:
    reason = _reason(occurred_at=occurred_at)
    assert reason.startswith("occurred_at: ")
    assert fragment in reason


@pytest.mark.parametrize(
    "occurred_at",
    ["2000-01-01T00:00:00+00:00", "2024-06-03T12:00:00+00:00", "2024-06-03T18:00:00+06:00"],
)
def test_times_at_the_bounds_are_admitted(occurred_at: str) -> None:
    assert _admit(occurred_at=occurred_at).occurred_at == datetime.fromisoformat(occurred_at)


def test_judged_against_the_record_not_the_wall_clock() -> None:
    # Two days after this old record: refused now and on every replay, whatever the date.
    late = (RECORDED + timedelta(days=2)).isoformat()
    assert "after the record" in _reason(occurred_at=late)
    # The same time in a record written later is fine.
    assert _admit(at=RECORDED + timedelta(days=2), occurred_at=late)


def test_a_market_local_date_ahead_of_utc_is_admitted_but_not_years_ahead() -> None:
    # 23:00 UTC on 2024-06-02 is already 2024-06-03 in UTC+14; the next day too, barely.
    assert _admit(at=datetime(2024, 6, 2, 23, 0, tzinfo=UTC), metrics_date="2024-06-04")
    assert "metrics_date" in _reason(metrics_date="2024-06-10")
    assert "metrics_date: 0001-01-01 is before 2000-01-01" in _reason(metrics_date="0001-01-01")


def test_the_floor_and_tolerance_are_settings() -> None:
    from services.shared.settings import Settings

    rule = Plausibility.of(
        Settings(time_floor="2024-06-01", future_tolerance_seconds=60)  # type: ignore[arg-type]
    )
    assert rule == Plausibility(datetime(2024, 6, 1, tzinfo=UTC), timedelta(seconds=60))


@pytest.mark.parametrize(("key", "got"), [(b"seller-other", "'seller-other'"), (None, "None")])
def test_a_record_keyed_otherwise_than_its_key_field_is_refused(
    key: bytes | None, got: str
) -> None:
    assert _reason(key=key) == f"key: must be the seller_id 'seller-th-001', got {got}"


def test_a_topic_keyed_by_customer_checks_the_customer_id() -> None:
    profile = {
        "event_id": "7a0e8f8e-0d6c-4a57-9a51-3b1f0c1d2e3f",
        "event_type": "CustomerProfileUpdated",
        "schema_version": 1,
        "occurred_at": "2024-06-01T00:00:00+00:00",
        "customer_id": "cust-1",
        "region": "Bangkok",
        "city": "Bangkok",
        "gender": "female",
        "age_band": "25-34",
        "language": "th",
    }
    raw = json.dumps(profile).encode()
    common = {"timestamp_ms": int(RECORDED.timestamp() * 1000), "max_bytes": 1 << 16, "rule": RULE}
    assert admit("crm.customer-profiles", raw, key=b"cust-1", **common)  # type: ignore[arg-type]
    with pytest.raises(DecodeError, match="must be the customer_id 'cust-1', got 'seller-1'"):
        admit("crm.customer-profiles", raw, key=b"seller-1", **common)  # type: ignore[arg-type]


def test_the_fast_path_admits_only_what_the_exact_rule_admits() -> None:
    """admit() skips the exact comparison for times clearly inside the bounds: around
    both bounds, in every offset, it never lets through what implausible_time refuses."""
    import random
    from datetime import timezone

    from services.shared.admission import _clearly_plausible, implausible_time

    template = _admit()
    rng = random.Random(15)
    rules = (RULE, Plausibility(datetime(2010, 3, 5, 7, tzinfo=UTC), timedelta(hours=3)))
    admitted = 0
    for n in range(4000):
        rule = rules[n % 2]
        recorded_ms = int(RECORDED.timestamp() * 1000) + rng.randint(-4, 4) * 86_400_000
        recorded_at = datetime.fromtimestamp(recorded_ms / 1000, tz=UTC)
        anchor = rng.choice([rule.floor, recorded_at + rule.tolerance])
        offset = timezone(timedelta(minutes=15 * rng.randint(-48, 56)))
        moment = anchor + timedelta(
            seconds=rng.randint(-3 * 86400, 3 * 86400), microseconds=rng.choice([0, 1, -1])
        )
        update = {"occurred_at": moment.astimezone(offset)}
        if n % 3 == 0:
            update = {"metrics_date": moment.astimezone(offset).date()}
        event = template.model_copy(update=update)
        fast = _clearly_plausible(event, recorded_ms, rule)
        assert not fast or implausible_time(event, recorded_at, rule) is None, event
        admitted += fast
    assert 0 < admitted < 4000  # both paths were taken
