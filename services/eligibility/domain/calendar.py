"""Months, windows and market-local time (SPEC sections 2 and 3).

The decision effective in month E uses metrics dates d with
22nd of E−2 <= d < 22nd of E−1. Windows of consecutive months tile the calendar,
so every date belongs to exactly one window: `effective_month_of(d)`.
"""

from __future__ import annotations

from datetime import date, datetime, time
from functools import cache

from schemas.markets import local_date, zone_of

WINDOW_DAY = 22


def parse_month(month: str) -> tuple[int, int]:
    year, number = month.split("-")
    return int(year), int(number)


def format_month(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def add_months(month: str, delta: int) -> str:
    year, number = parse_month(month)
    index = year * 12 + (number - 1) + delta
    return format_month(index // 12, index % 12 + 1)


def first_day(month: str) -> date:
    year, number = parse_month(month)
    return date(year, number, 1)


@cache  # a tick asks it for every seller, for one month
def window(effective_month: str) -> tuple[date, date]:
    """[start, end) of the metrics dates behind the decision effective in that month."""
    start_year, start_month = parse_month(add_months(effective_month, -2))
    end_year, end_month = parse_month(add_months(effective_month, -1))
    return date(start_year, start_month, WINDOW_DAY), date(end_year, end_month, WINDOW_DAY)


def effective_month_of(day: date) -> str:
    """The month whose decision uses `day` (a market-local date)."""
    month = format_month(day.year, day.month)
    return add_months(month, 2 if day.day >= WINDOW_DAY else 1)


def local_midnight(day: date, market: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone_of(market))


def window_closes_at(effective_month: str, market: str) -> datetime:
    """The instant the window's last day is over, market-local: 22nd of E−1, 00:00."""
    return local_midnight(window(effective_month)[1], market)


def evaluation_at(effective_month: str, market: str) -> datetime:
    """When the scheduled tick for that month falls: the 1st, 00:00 market-local."""
    return local_midnight(first_day(effective_month), market)


def month_at(instant: datetime, market: str) -> str:
    """The market-local month an instant falls in."""
    day = local_date(instant, market)
    return format_month(day.year, day.month)


def next_evaluation(instant: datetime, market: str) -> datetime:
    """The first scheduled evaluation strictly after `instant`."""
    return evaluation_at(add_months(month_at(instant, market), 1), market)
