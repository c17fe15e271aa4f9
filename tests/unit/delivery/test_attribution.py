"""Which plan an order is credited to (the latest received in the 7 days before it) and
which market-local day an event belongs to, across zones and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.delivery.domain.attribution import (
    ATTRIBUTION_WINDOW,
    Receipt,
    attributed_plan,
    local_day,
    receipt_day,
    receipt_days,
    remember,
)
from tests.unit.customers.builders import local, utc

pytestmark = pytest.mark.unit

ORDER_AT = utc("2024-07-10T12:00:00")
TICK = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("receipts", "expected"),
    [
        ([], None),
        # Exactly 7 days before is outside (t − 7d, t]; one microsecond later is inside.
        ([Receipt(ORDER_AT - ATTRIBUTION_WINDOW, "p-old")], None),
        ([Receipt(ORDER_AT - ATTRIBUTION_WINDOW + TICK, "p-edge")], "p-edge"),
        # Received at the order's own instant counts; a moment after does not.
        ([Receipt(ORDER_AT, "p-now")], "p-now"),
        ([Receipt(ORDER_AT + TICK, "p-after")], None),
        # The latest receipt in the window wins, whatever order they are given in.
        (
            [
                Receipt(ORDER_AT - timedelta(days=1), "p-recent"),
                Receipt(ORDER_AT - timedelta(days=5), "p-earlier"),
                Receipt(ORDER_AT + timedelta(hours=1), "p-later-than-order"),
                Receipt(ORDER_AT - timedelta(days=8), "p-too-old"),
            ],
            "p-recent",
        ),
        # Two plans received in the same instant: the larger plan id, so there is one answer.
        (
            [
                Receipt(ORDER_AT - timedelta(days=2), "p-b"),
                Receipt(ORDER_AT - timedelta(days=2), "p-a"),
            ],
            "p-b",
        ),
    ],
)
def test_an_order_goes_to_the_latest_plan_received_in_the_7_days_before(
    receipts: list[Receipt], expected: str | None
) -> None:
    assert attributed_plan(receipts, ORDER_AT) == expected


def test_the_window_is_elapsed_time_across_a_dst_change() -> None:
    # Los Angeles springs forward on 2024-03-10: seven days back from 2024-03-14 09:00 PDT
    # is 2024-03-07 08:00 PST (the same instant minus 168 hours), not 09:00 PST.
    at = local("US", "2024-03-14", "09:00")
    assert attributed_plan([Receipt(local("US", "2024-03-07", "08:30"), "p")], at) == "p"
    assert attributed_plan([Receipt(local("US", "2024-03-07", "08:00"), "p")], at) is None


def test_the_receipt_buckets_read_are_the_utc_days_of_the_window() -> None:
    assert receipt_days(utc("2024-07-10T03:00:00")) == [
        date(2024, 7, 3) + timedelta(days=n) for n in range(8)
    ]
    # An order given in a local zone reads the same buckets as its UTC instant.
    assert receipt_days(local("TH", "2024-07-10", "06:00")) == receipt_days(
        utc("2024-07-09T23:00:00")
    )


@given(
    at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
    back=st.timedeltas(min_value=timedelta(0), max_value=ATTRIBUTION_WINDOW - TICK),
)
def test_every_attributable_receipt_is_in_a_bucket_read(at: datetime, back: timedelta) -> None:
    order_at = at.replace(tzinfo=UTC)
    assert receipt_day(order_at - back) in receipt_days(order_at)


def test_a_plan_is_remembered_once_at_its_first_delivery() -> None:
    first = Receipt(utc("2024-07-01T10:00:00"), "p1")
    again = Receipt(utc("2024-07-01T11:00:00"), "p1")
    other = Receipt(utc("2024-07-01T09:00:00"), "p2")
    assert remember(remember([again], first), other) == [other, first]
    assert remember([first, other], first) == [other, first]


receipts = st.builds(
    Receipt,
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2024, 1, 3)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    st.sampled_from(["p1", "p2", "p3"]),
)


@given(st.lists(receipts, max_size=8), st.randoms())
def test_remembering_is_order_independent_and_idempotent(
    given_receipts: list[Receipt], random: object
) -> None:
    def build(order: list[Receipt]) -> list[Receipt]:
        held: list[Receipt] = []
        for receipt in order:
            held = remember(held, receipt)
        return held

    shuffled = list(given_receipts)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert build(given_receipts) == build(shuffled) == build(given_receipts + shuffled)


@pytest.mark.parametrize(
    ("market", "instant", "expected"),
    [
        # Bangkok and Jakarta are UTC+7 all year: 17:00 UTC is the next local day.
        ("TH", "2024-07-03T16:59:59", "2024-07-03"),
        ("TH", "2024-07-03T17:00:00", "2024-07-04"),
        ("ID", "2024-12-31T17:30:00", "2025-01-01"),
        # Los Angeles: PST (UTC-8) before 2024-03-10 02:00, PDT (UTC-7) after.
        ("US", "2024-03-10T07:59:59", "2024-03-09"),
        ("US", "2024-03-10T08:00:00", "2024-03-10"),
        ("US", "2024-03-11T06:59:59", "2024-03-10"),
        ("US", "2024-03-11T07:00:00", "2024-03-11"),
        # Fall back: 2024-11-03 lasts 25 hours, 07:00 UTC to 08:00 UTC the next day.
        ("US", "2024-11-04T07:59:59", "2024-11-03"),
        ("US", "2024-11-04T08:00:00", "2024-11-04"),
        # London in summer time (UTC+1).
        ("GB", "2024-07-03T23:00:00", "2024-07-04"),
        # A market not known yet: UTC days.
        (None, "2024-07-03T23:00:00", "2024-07-03"),
        ("XX", "2024-07-03T23:00:00", "2024-07-03"),
    ],
)
def test_an_event_belongs_to_its_market_local_day(
    market: str | None, instant: str, expected: str
) -> None:
    assert local_day(utc(instant), market) == date.fromisoformat(expected)
