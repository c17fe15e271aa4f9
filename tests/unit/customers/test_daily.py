"""When the daily recompute comes due: the next 00:00 market-local, across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.markets import MARKET_TIME_ZONES
from services.customers.domain.recompute_days import behind, local_today, next_local_midnight
from tests.unit.customers.builders import utc

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("market", "now", "expected"),
    [
        # Jakarta and Bangkok, UTC+7 all year.
        ("ID", "2024-07-03T10:00:00", "2024-07-03T17:00:00"),
        ("TH", "2024-07-03T16:59:59", "2024-07-03T17:00:00"),
        # Exactly at midnight: the next one, a day later.
        ("ID", "2024-07-03T17:00:00", "2024-07-04T17:00:00"),
        # Los Angeles: the night before spring forward is still PST (UTC-8) ...
        ("US", "2024-03-09T20:00:00", "2024-03-10T08:00:00"),
        # ... and the day of it is 23 hours long: the next midnight is PDT (UTC-7).
        ("US", "2024-03-10T08:00:00", "2024-03-11T07:00:00"),
        # Fall back: 2024-11-03 begins in PDT and lasts 25 hours.
        ("US", "2024-11-03T06:59:59", "2024-11-03T07:00:00"),
        ("US", "2024-11-03T07:00:00", "2024-11-04T08:00:00"),
        # London: 2024-03-31 begins in GMT; the next day begins in BST (UTC+1).
        ("GB", "2024-03-30T23:30:00", "2024-03-31T00:00:00"),
        ("GB", "2024-03-31T00:00:00", "2024-03-31T23:00:00"),
        # 2024-10-27 begins in BST and ends in GMT.
        ("GB", "2024-10-26T23:00:00", "2024-10-28T00:00:00"),
    ],
)
def test_next_local_midnight(market: str, now: str, expected: str) -> None:
    assert next_local_midnight(market, utc(now)) == utc(expected)


@pytest.mark.parametrize(
    ("market", "expected"),
    [
        ("ID", date(2024, 7, 4)),
        ("TH", date(2024, 7, 4)),
        ("US", date(2024, 7, 3)),
        ("GB", date(2024, 7, 3)),
        ("SG", date(2024, 7, 4)),
    ],
)
def test_local_today_is_the_market_date(market: str, expected: date) -> None:
    # 18:00 UTC: already tomorrow in Asia, still today in London and Los Angeles.
    assert local_today(market, utc("2024-07-03T18:00:00")) == expected


@pytest.mark.parametrize(
    ("latest", "lagging"),
    [(None, True), (date(2024, 7, 2), True), (date(2024, 7, 3), False), (date(2024, 7, 4), False)],
)
def test_behind_today(latest: date | None, lagging: bool) -> None:
    assert behind(latest, date(2024, 7, 3)) is lagging


def test_an_unknown_market_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown market 'XX'"):
        local_today("XX", utc("2024-07-03T00:00:00"))


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@given(market=st.sampled_from(sorted(MARKET_TIME_ZONES)), now=instants)
def test_the_next_midnight_begins_the_next_local_day(market: str, now: datetime) -> None:
    midnight = next_local_midnight(market, now)
    local = midnight.astimezone(ZoneInfo(MARKET_TIME_ZONES[market]))
    assert now < midnight <= now + timedelta(hours=25)
    assert (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)
    assert local_today(market, midnight) == local_today(market, now) + timedelta(days=1)
    # Nothing in between is a midnight: just before it is still the same local day.
    assert local_today(market, midnight - timedelta(microseconds=1)) == local_today(market, now)
