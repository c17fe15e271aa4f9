"""local_date: the market-local calendar date of an instant, in every market's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from schemas.markets import MARKET_TIME_ZONES, local_date, zone_of


@pytest.mark.parametrize(
    ("instant", "market", "expected"),
    [
        # Bangkok is UTC+7: 17:00 UTC is already the next day there.
        (datetime(2026, 3, 31, 16, 59, 59, tzinfo=UTC), "TH", date(2026, 3, 31)),
        (datetime(2026, 3, 31, 17, 0, tzinfo=UTC), "TH", date(2026, 4, 1)),
        # Jakarta is UTC+7, Kuala Lumpur, Manila and Singapore UTC+8.
        (datetime(2026, 1, 1, 16, 30, tzinfo=UTC), "ID", date(2026, 1, 1)),
        (datetime(2026, 1, 1, 16, 30, tzinfo=UTC), "SG", date(2026, 1, 2)),
        (datetime(2026, 1, 1, 16, 0, tzinfo=UTC), "MY", date(2026, 1, 2)),
        (datetime(2026, 1, 1, 15, 59, tzinfo=UTC), "PH", date(2026, 1, 1)),
        (datetime(2026, 6, 30, 17, 0, tzinfo=UTC), "VN", date(2026, 7, 1)),
        # Los Angeles is behind UTC: early UTC hours are still the day before, by 8 hours
        # in winter (PST) and 7 in summer (PDT).
        (datetime(2026, 1, 15, 7, 59, tzinfo=UTC), "US", date(2026, 1, 14)),
        (datetime(2026, 1, 15, 8, 0, tzinfo=UTC), "US", date(2026, 1, 15)),
        (datetime(2026, 7, 15, 6, 59, tzinfo=UTC), "US", date(2026, 7, 14)),
        (datetime(2026, 7, 15, 7, 0, tzinfo=UTC), "US", date(2026, 7, 15)),
        # London: UTC in winter, UTC+1 in summer (BST from 29 March 2026).
        (datetime(2026, 1, 15, 23, 30, tzinfo=UTC), "GB", date(2026, 1, 15)),
        (datetime(2026, 7, 15, 23, 30, tzinfo=UTC), "GB", date(2026, 7, 16)),
        # New Year's Eve across the date line of the markets.
        (datetime(2025, 12, 31, 20, 0, tzinfo=UTC), "TH", date(2026, 1, 1)),
        (datetime(2025, 12, 31, 20, 0, tzinfo=UTC), "US", date(2025, 12, 31)),
    ],
)
def test_the_market_local_date_of_an_instant(
    instant: datetime, market: str, expected: date
) -> None:
    assert local_date(instant, market) == expected


def test_the_same_instant_in_another_offset_has_the_same_local_date() -> None:
    utc = datetime(2026, 5, 10, 18, 30, tzinfo=UTC)
    elsewhere = utc.astimezone(timezone(timedelta(hours=-5)))
    for market in MARKET_TIME_ZONES:
        assert local_date(elsewhere, market) == local_date(utc, market)


def test_local_date_around_the_dst_changes_in_london() -> None:
    # Clocks go forward at 01:00 UTC on 29 March 2026 and back at 01:00 UTC on 25 October.
    assert local_date(datetime(2026, 3, 28, 23, 30, tzinfo=UTC), "GB") == date(2026, 3, 28)
    assert local_date(datetime(2026, 3, 29, 23, 30, tzinfo=UTC), "GB") == date(2026, 3, 30)
    assert local_date(datetime(2026, 10, 24, 23, 30, tzinfo=UTC), "GB") == date(2026, 10, 25)
    assert local_date(datetime(2026, 10, 25, 23, 30, tzinfo=UTC), "GB") == date(2026, 10, 25)


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_date(datetime(2026, 1, 1, 12, 0), "TH")


def test_an_unknown_market_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown market 'XX'; known markets: GB, ID"):
        local_date(datetime(2026, 1, 1, tzinfo=UTC), "XX")
    with pytest.raises(ValueError, match="unknown market"):
        zone_of("XX")


def test_every_market_has_its_zone() -> None:
    assert {str(zone_of(m)) for m in MARKET_TIME_ZONES} == set(MARKET_TIME_ZONES.values())
