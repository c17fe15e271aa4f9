from datetime import UTC, date, datetime

import pytest

from services.eligibility.domain.calendar import (
    effective_month_of,
    evaluation_at,
    local_date,
    next_evaluation,
    window,
    window_closes_at,
)
from services.eligibility.domain.decision import tick_refusal


@pytest.mark.parametrize(
    ("month", "start", "end"),
    [
        ("2024-07", date(2024, 5, 22), date(2024, 6, 22)),  # the SPEC's example
        ("2025-01", date(2024, 11, 22), date(2024, 12, 22)),
        ("2025-02", date(2024, 12, 22), date(2025, 1, 22)),  # across the year end
        ("2024-03", date(2024, 1, 22), date(2024, 2, 22)),
    ],
)
def test_window_of_an_effective_month(month: str, start: date, end: date) -> None:
    assert window(month) == (start, end)


@pytest.mark.parametrize(
    ("day", "month"),
    [
        (date(2024, 6, 21), "2024-07"),  # last day of July's window
        (date(2024, 6, 22), "2024-08"),  # first day of August's
        (date(2024, 12, 21), "2025-01"),
        (date(2024, 12, 22), "2025-02"),
        (date(2025, 1, 21), "2025-02"),
        (date(2024, 11, 22), "2025-01"),
    ],
)
def test_each_metrics_date_belongs_to_one_window(day: date, month: str) -> None:
    assert effective_month_of(day) == month
    start, end = window(month)
    assert start <= day < end


@pytest.mark.parametrize(
    ("instant", "market", "day"),
    [
        # The SPEC's example: 05:00Z on June 22 is still June 21 in Los Angeles …
        (datetime(2024, 6, 22, 5, 0, tzinfo=UTC), "US", date(2024, 6, 21)),
        # … and already June 22 in Bangkok.
        (datetime(2024, 6, 22, 5, 0, tzinfo=UTC), "TH", date(2024, 6, 22)),
        (datetime(2024, 6, 21, 16, 59, tzinfo=UTC), "TH", date(2024, 6, 21)),
        (datetime(2024, 6, 21, 17, 0, tzinfo=UTC), "TH", date(2024, 6, 22)),
        (datetime(2024, 6, 21, 23, 30, tzinfo=UTC), "GB", date(2024, 6, 22)),  # BST
        (datetime(2024, 12, 21, 23, 30, tzinfo=UTC), "GB", date(2024, 12, 21)),  # GMT
    ],
)
def test_local_date_in_the_sellers_time_zone(instant: datetime, market: str, day: date) -> None:
    assert local_date(instant, market) == day


def test_window_closes_at_local_midnight_of_the_22nd() -> None:
    assert window_closes_at("2024-07", "TH") == datetime(2024, 6, 21, 17, 0, tzinfo=UTC)
    assert window_closes_at("2024-07", "US") == datetime(2024, 6, 22, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("market", "at", "refused"),
    [
        ("TH", datetime(2024, 6, 21, 16, 59, 59, tzinfo=UTC), True),
        ("TH", datetime(2024, 6, 21, 17, 0, tzinfo=UTC), False),
        ("US", datetime(2024, 6, 22, 6, 59, 59, tzinfo=UTC), True),
        ("US", datetime(2024, 6, 22, 7, 0, tzinfo=UTC), False),
        ("TH", datetime(2024, 7, 1, tzinfo=UTC), False),
    ],
)
def test_a_tick_before_its_window_closed_is_refused(
    market: str, at: datetime, refused: bool
) -> None:
    reason = tick_refusal(market, "2024-07", at)
    assert (reason is not None) == refused
    if refused:
        assert "closes at" in str(reason)


def test_evaluation_is_the_first_at_local_midnight() -> None:
    assert evaluation_at("2024-07", "TH") == datetime(2024, 6, 30, 17, 0, tzinfo=UTC)
    assert evaluation_at("2024-12", "US") == datetime(2024, 12, 1, 8, 0, tzinfo=UTC)  # PST
    assert evaluation_at("2024-07", "US") == datetime(2024, 7, 1, 7, 0, tzinfo=UTC)  # PDT
    assert next_evaluation(datetime(2024, 6, 30, 16, 59, tzinfo=UTC), "TH") == evaluation_at(
        "2024-07", "TH"
    )
    assert next_evaluation(datetime(2024, 6, 30, 17, 0, tzinfo=UTC), "TH") == evaluation_at(
        "2024-08", "TH"
    )


def test_ticks_fall_due_at_local_midnight_on_the_first() -> None:
    from services.eligibility.domain.schedule import due_ticks

    # 2024-06-30 17:00Z is July 1st 00:00 in Bangkok, still June 30 in London and LA.
    now = datetime(2024, 6, 30, 17, 0, tzinfo=UTC)
    due = dict(due_ticks(now, set()))
    assert due["TH"] == "2024-07"
    assert due["GB"] == "2024-06"
    assert due["US"] == "2024-06"
    assert len(due) == 8
    emitted = set(due.items())
    assert due_ticks(now, emitted) == []
    later = datetime(2024, 7, 1, 7, 0, tzinfo=UTC)  # 00:00 PDT
    assert ("US", "2024-07") in due_ticks(later, emitted)
