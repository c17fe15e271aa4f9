"""Day D's cut-off and its windows, market-local, across offsets and DST changes."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from services.customers.domain.cutoff import cutoff
from tests.unit.customers.builders import local, utc

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("market", "day", "cutoff_utc", "seven_days_back_utc"),
    [
        ("TH", "2024-05-10", "2024-05-09T17:00", "2024-05-02T17:00"),
        ("ID", "2024-05-10", "2024-05-09T17:00", "2024-05-02T17:00"),
        ("PH", "2024-05-10", "2024-05-09T16:00", "2024-05-02T16:00"),
        ("US", "2024-05-10", "2024-05-10T07:00", "2024-05-03T07:00"),
        # The week of US spring-forward (2024-03-10): the window is 7 days less an hour.
        ("US", "2024-03-12", "2024-03-12T07:00", "2024-03-05T08:00"),
        # GB falls back on 2024-10-27: 7 days and an hour.
        ("GB", "2024-10-30", "2024-10-30T00:00", "2024-10-22T23:00"),
    ],
)
def test_cutoff_and_window_start_are_local_midnights(
    market: str, day: str, cutoff_utc: str, seven_days_back_utc: str
) -> None:
    cut = cutoff(date.fromisoformat(day), market)
    assert cut.at == utc(cutoff_utc)
    assert cut.days_back(7) == utc(seven_days_back_utc)
    assert cut.days_back(0) == cut.at


def test_in_last_days_is_half_open() -> None:
    cut = cutoff(date(2024, 3, 12), "US")
    start = cut.days_back(7)
    tick = timedelta(microseconds=1)
    assert cut.in_last_days(start, 7)
    assert not cut.in_last_days(start - tick, 7)
    assert cut.in_last_days(cut.at - tick, 7)
    assert not cut.in_last_days(cut.at, 7)
    assert not cut.in_last_days(None, 7)
    # 7 × 24 hours before the cut-off is 23:00 on the 4th, Pacific Standard Time: outside.
    assert not cut.in_last_days(cut.at - timedelta(days=7), 7)


@pytest.mark.parametrize(
    ("market", "day", "instant", "days"),
    [
        ("TH", "2024-05-10", local("TH", "2024-05-09", "23:59:59"), 1),
        ("TH", "2024-05-10", local("TH", "2024-05-09", "00:00"), 1),
        ("TH", "2024-05-10", local("TH", "2024-05-08", "23:59:59"), 2),
        ("TH", "2024-05-10", local("TH", "2024-02-10", "12:00"), 90),
        # The same instant is still the 9th in Los Angeles but already the 10th in Bangkok.
        ("US", "2024-05-10", utc("2024-05-09T18:00"), 1),
        ("TH", "2024-05-10", utc("2024-05-09T18:00"), 0),
        # Across spring-forward: three dates, though fewer than 3 × 24 hours.
        ("US", "2024-03-12", local("US", "2024-03-09", "23:30"), 3),
    ],
)
def test_days_since_counts_local_dates(market: str, day: str, instant: datetime, days: int) -> None:
    assert cutoff(date.fromisoformat(day), market).days_since(instant) == days


def test_before_drops_facts_at_or_after_the_cutoff() -> None:
    cut = cutoff(date(2024, 5, 10), "TH")
    assert cut.before(cut.at) is None
    assert cut.before(None) is None
    earlier = cut.at - timedelta(microseconds=1)
    assert cut.before(earlier) == earlier


def test_an_unknown_market_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown market 'XX'; known markets: GB, ID"):
        cutoff(date(2024, 5, 10), "XX")
