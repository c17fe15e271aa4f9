"""The quota week is the market-local ISO week, Monday 00:00 to Monday 00:00."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.markets import Market
from services.quota.domain.week import (
    KEYS_OUTLIVE_WEEK_BY,
    keys_expire_at,
    market_zone,
    week_named,
    week_of,
)

pytestmark = pytest.mark.unit


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (market, instant in UTC, market-local wall time it is, ISO week)
BOUNDARIES = [
    # Bangkok is UTC+7 all year.
    ("TH", "2024-07-07T16:59:59", "Sun 2024-07-07 23:59:59", "2024-W27"),
    ("TH", "2024-07-07T17:00:00", "Mon 2024-07-08 00:00:00", "2024-W28"),
    ("TH", "2024-12-29T16:59:59", "Sun 2024-12-29 23:59:59", "2024-W52"),
    ("TH", "2024-12-29T17:00:00", "Mon 2024-12-30 00:00:00", "2025-W01"),
    # Los Angeles, the week clocks spring forward (Sun 2024-03-10 02:00 PST -> 03:00 PDT).
    ("US", "2024-03-04T07:59:59", "Sun 2024-03-03 23:59:59 PST", "2024-W09"),
    ("US", "2024-03-04T08:00:00", "Mon 2024-03-04 00:00:00 PST", "2024-W10"),
    ("US", "2024-03-10T09:59:59", "Sun 2024-03-10 01:59:59 PST", "2024-W10"),
    ("US", "2024-03-10T10:00:00", "Sun 2024-03-10 03:00:00 PDT", "2024-W10"),
    ("US", "2024-03-11T06:59:59", "Sun 2024-03-10 23:59:59 PDT", "2024-W10"),
    ("US", "2024-03-11T07:00:00", "Mon 2024-03-11 00:00:00 PDT", "2024-W11"),
    # ... and the week they fall back (Sun 2024-11-03 02:00 PDT -> 01:00 PST).
    ("US", "2024-10-28T06:59:59", "Sun 2024-10-27 23:59:59 PDT", "2024-W43"),
    ("US", "2024-10-28T07:00:00", "Mon 2024-10-28 00:00:00 PDT", "2024-W44"),
    ("US", "2024-11-03T08:30:00", "Sun 2024-11-03 01:30:00 PDT", "2024-W44"),
    ("US", "2024-11-03T09:30:00", "Sun 2024-11-03 01:30:00 PST", "2024-W44"),
    ("US", "2024-11-04T07:59:59", "Sun 2024-11-03 23:59:59 PST", "2024-W44"),
    ("US", "2024-11-04T08:00:00", "Mon 2024-11-04 00:00:00 PST", "2024-W45"),
]


@pytest.mark.parametrize(
    ("market", "instant", "local", "week"), BOUNDARIES, ids=[f"{b[0]} {b[2]}" for b in BOUNDARIES]
)
def test_sunday_night_and_monday_midnight_fall_in_their_market_weeks(
    market: str, instant: str, local: str, week: str
) -> None:
    at = _utc(instant)
    wall = at.astimezone(market_zone(market))
    assert wall.strftime("%a %Y-%m-%d %H:%M:%S") == local.removesuffix(" PST").removesuffix(" PDT")
    assert week_of(at, market).label == week


@pytest.mark.parametrize(
    ("market", "week", "starts", "ends", "hours"),
    [
        ("TH", "2024-W27", "2024-06-30T17:00:00", "2024-07-07T17:00:00", 168),
        ("US", "2024-W10", "2024-03-04T08:00:00", "2024-03-11T07:00:00", 167),
        ("US", "2024-W44", "2024-10-28T07:00:00", "2024-11-04T08:00:00", 169),
        ("GB", "2024-W13", "2024-03-25T00:00:00", "2024-03-31T23:00:00", 167),
    ],
)
def test_week_bounds_are_market_local_midnights(
    market: str, week: str, starts: str, ends: str, hours: int
) -> None:
    bounds = week_named(week, market)
    assert (bounds.starts_at, bounds.ends_at) == (_utc(starts), _utc(ends))
    assert bounds.ends_at - bounds.starts_at == timedelta(hours=hours)


def test_one_instant_is_in_different_weeks_in_different_markets() -> None:
    monday_morning_in_bangkok = _utc("2024-03-11T01:00:00")
    assert week_of(monday_morning_in_bangkok, "TH").label == "2024-W11"
    assert week_of(monday_morning_in_bangkok, "US").label == "2024-W10"


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        week_of(datetime(2024, 7, 1), "TH")


def test_keys_outlive_their_week_or_their_last_write() -> None:
    week = week_named("2024-W27", "TH")
    during = _utc("2024-07-03T00:00:00")
    much_later = _utc("2024-12-01T00:00:00")

    assert keys_expire_at(week, during) == week.ends_at + KEYS_OUTLIVE_WEEK_BY
    assert keys_expire_at(week, much_later) == much_later + KEYS_OUTLIVE_WEEK_BY


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(instants, st.sampled_from(get_args(Market)))
def test_every_instant_lies_in_its_week(at: datetime, market: str) -> None:
    week = week_of(at, market)
    local_start = week.starts_at.astimezone(market_zone(market))

    assert week.starts_at <= at < week.ends_at
    assert (local_start.isoweekday(), local_start.hour, local_start.minute) == (1, 0, 0)
    assert week_named(week.label, market) == week
    assert week_of(week.ends_at, market).starts_at == week.ends_at
