"""The six per-customer built-in segments, at the edges of their windows.

D is 2024-06-30 unless a test says otherwise; times are written market-local.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

from services.customers.domain.cutoff import cutoff
from services.customers.domain.relationship import EMPTY, Relationship, RelationshipEvent, fold
from services.customers.domain.segments import (
    BUILTIN_SEGMENT_IDS,
    RELATIONSHIP_RULES,
    BuiltinTally,
    SegmentId,
    members,
    memberships,
)
from tests.unit.customers.builders import (
    cart_added,
    chatted,
    followed,
    local,
    ordered,
    unfollowed,
    utc,
    viewed,
)

pytestmark = pytest.mark.unit

D = date(2024, 6, 30)
TICK = timedelta(microseconds=1)


def th(day: str, clock: str = "00:00") -> datetime:
    return local("TH", day, clock)


def just_before(day: str) -> datetime:
    """The last instant before `day` 00:00 in Bangkok."""
    return th(day) - TICK


def member_of(segment: SegmentId, events: list[RelationshipEvent], market: str = "TH") -> bool:
    return "c1" in members(segment, [("c1", fold(events))], D, market)


Case = tuple[str, list[RelationshipEvent], bool]


def _cases(*cases: Case) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return pytest.mark.parametrize(
        ("events", "expected"), [pytest.param(e, x, id=name) for name, e, x in cases]
    )


@_cases(
    ("first order 30 days back at 00:00", [ordered(th("2024-05-31"))], True),
    ("first order 30 days back at 23:59", [ordered(th("2024-05-31", "23:59"))], True),
    ("first order 31 days back at 23:59", [ordered(just_before("2024-05-31"))], False),
    ("first order yesterday, last instant", [ordered(just_before("2024-06-30"))], True),
    ("first order at the cut-off", [ordered(th("2024-06-30"))], False),
    ("never ordered", [viewed(th("2024-06-29"))], False),
    (
        "recent order, but the first was 40 days back",
        [ordered(th("2024-05-21"), "o1"), ordered(th("2024-06-29"), "o2")],
        False,
    ),
    (
        "first order in the window, another after the cut-off",
        [ordered(th("2024-06-10"), "o1"), ordered(th("2024-06-30", "09:00"), "o2")],
        True,
    ),
)
def test_new_customers(events: list[RelationshipEvent], expected: bool) -> None:
    assert member_of("new_customers", events) is expected


@_cases(
    (
        "orders 180 days back and yesterday",
        [ordered(th("2024-01-02"), "o1"), ordered(th("2024-06-29"), "o2")],
        True,
    ),
    (
        "first of two orders 181 days back",
        [ordered(just_before("2024-01-02"), "o1"), ordered(th("2024-06-29"), "o2")],
        False,
    ),
    (
        "two orders the same day",
        [ordered(th("2024-06-01", "10:00"), "o1"), ordered(th("2024-06-01", "10:05"), "o2")],
        True,
    ),
    ("one order, delivered twice", [ordered(th("2024-06-01"), "o1")] * 2, False),
    (
        "second order at the cut-off",
        [ordered(th("2024-06-01"), "o1"), ordered(th("2024-06-30"), "o2")],
        False,
    ),
    (
        "three orders, two in the window",
        [
            ordered(th("2023-06-01"), "o0"),
            ordered(th("2024-03-01"), "o1"),
            ordered(th("2024-06-01"), "o2"),
        ],
        True,
    ),
)
def test_repeat_customers(events: list[RelationshipEvent], expected: bool) -> None:
    assert member_of("repeat_customers", events) is expected


@_cases(
    ("last order 91 days back", [ordered(just_before("2024-04-01"))], True),
    ("last order 90 days back at 00:00", [ordered(th("2024-04-01"))], False),
    (
        "an old order and one inside 90 days",
        [ordered(th("2023-01-01"), "o1"), ordered(th("2024-06-01"), "o2")],
        False,
    ),
    ("never ordered", [followed(th("2023-01-01"))], False),
    (
        "an old order, the next only after the cut-off",
        [ordered(th("2023-01-01"), "o1"), ordered(th("2024-06-30", "08:00"), "o2")],
        True,
    ),
    ("only an order after the cut-off", [ordered(th("2024-06-30", "08:00"))], False),
)
def test_lapsed_customers(events: list[RelationshipEvent], expected: bool) -> None:
    assert member_of("lapsed_customers", events) is expected


@_cases(
    ("follows, never ordered", [followed(th("2024-01-01"))], True),
    (
        "a follower who then ordered",
        [followed(th("2024-01-01")), ordered(th("2024-06-01"))],
        False,
    ),
    (
        "ordered long before following",
        [ordered(th("2020-01-01")), followed(th("2024-01-01"))],
        False,
    ),
    (
        "ordered only after the cut-off",
        [followed(th("2024-01-01")), ordered(th("2024-06-30", "00:30"))],
        True,
    ),
    ("unfollowed", [followed(th("2024-01-01")), unfollowed(th("2024-02-01"))], False),
    (
        "followed again after unfollowing",
        [followed(th("2024-01-01")), unfollowed(th("2024-02-01")), followed(th("2024-03-01"))],
        True,
    ),
    ("follows from the cut-off on", [followed(th("2024-06-30"))], False),
    ("never followed", [viewed(th("2024-06-29"))], False),
)
def test_followers_not_purchased(events: list[RelationshipEvent], expected: bool) -> None:
    assert member_of("followers_not_purchased", events) is expected


@_cases(
    ("cart add 7 days back at 00:00", [cart_added(th("2024-06-23"))], True),
    ("cart add 8 days back at 23:59", [cart_added(just_before("2024-06-23"))], False),
    ("cart add yesterday", [cart_added(th("2024-06-29", "21:00"))], True),
    (
        "an order after the cart add",
        [cart_added(th("2024-06-25")), ordered(th("2024-06-26"))],
        False,
    ),
    (
        "an order at the instant of the cart add",
        [cart_added(th("2024-06-25")), ordered(th("2024-06-25"))],
        False,
    ),
    (
        "an order, then another cart add",
        [cart_added(th("2024-06-24")), ordered(th("2024-06-25")), cart_added(th("2024-06-26"))],
        True,
    ),
    (
        "the order only after the cut-off",
        [cart_added(th("2024-06-25")), ordered(th("2024-06-30", "00:00"))],
        True,
    ),
    (
        "an old order, a cart add since",
        [ordered(th("2024-01-01")), cart_added(th("2024-06-28"))],
        True,
    ),
    ("no cart add", [viewed(th("2024-06-28"))], False),
)
def test_cart_abandoners(events: list[RelationshipEvent], expected: bool) -> None:
    assert member_of("cart_abandoners", events) is expected


@_cases(
    ("viewed 30 days back at 00:00", [viewed(th("2024-05-31"))], True),
    ("viewed 31 days back at 23:59", [viewed(just_before("2024-05-31"))], False),
    ("chatted yesterday", [chatted(th("2024-06-29"))], True),
    ("chatted 31 days back", [chatted(th("2024-05-30"))], False),
    ("old view, recent chat", [viewed(th("2024-01-01")), chatted(th("2024-06-20"))], True),
    ("viewed, but ordered long ago", [ordered(th("2023-01-01")), viewed(th("2024-06-20"))], False),
    (
        "viewed, ordered only after the cut-off",
        [viewed(th("2024-06-20")), ordered(th("2024-06-30", "08:00"))],
        True,
    ),
    ("nothing", [], False),
)
def test_engaged_visitors(events: list[RelationshipEvent], expected: bool) -> None:
    assert member_of("engaged_visitors", events) is expected


# The same instants, two markets: 2024-06-22T17:30Z is 00:30 on the 23rd in Bangkok (inside
# "the last 7 days" of the 30th) and 10:30 on the 22nd in Los Angeles (outside).
@pytest.mark.parametrize(
    ("instant", "in_th", "in_us"),
    [
        (utc("2024-06-22T17:30"), True, False),
        (utc("2024-06-22T16:59"), False, False),
        (utc("2024-06-23T06:59"), True, False),
        (utc("2024-06-23T07:00"), True, True),
        # The last hours of the 29th in Los Angeles are already the 30th in Bangkok.
        (utc("2024-06-29T17:00"), False, True),
        (utc("2024-06-30T06:59"), False, True),
        (utc("2024-06-30T07:00"), False, False),
    ],
)
def test_the_last_7_days_are_market_local(instant: datetime, in_th: bool, in_us: bool) -> None:
    events: list[RelationshipEvent] = [cart_added(instant)]
    assert member_of("cart_abandoners", events, "TH") is in_th
    assert member_of("cart_abandoners", events, "US") is in_us


# The US spring-forward week: D = 2024-03-12, the window is [03-05 00:00 PST, 03-12 00:00 PDT),
# i.e. [08:00Z on the 5th, 07:00Z on the 12th) — 7 days less an hour.
@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (utc("2024-03-05T08:00"), True),
        (utc("2024-03-05T07:59:59.999999"), False),
        # Exactly 7 × 24 hours before the cut-off is still the 4th in Los Angeles.
        (utc("2024-03-05T07:00"), False),
        (utc("2024-03-12T06:59:59.999999"), True),
        (utc("2024-03-12T07:00"), False),
    ],
)
def test_the_last_7_days_across_a_dst_change(instant: datetime, expected: bool) -> None:
    rel = fold([cart_added(instant)])
    assert ("c1" in members("cart_abandoners", [("c1", rel)], date(2024, 3, 12), "US")) is expected


def test_new_customers_across_the_us_fall_back() -> None:
    # D = 2024-11-30: the window starts 2024-10-31 00:00 PDT (07:00Z), before the clocks
    # went back on 11-03; 30 days of 24 hours would start an hour later.
    d = date(2024, 11, 30)
    inside = fold([ordered(utc("2024-10-31T07:00"))])
    outside = fold([ordered(utc("2024-10-31T06:59:59"))])
    assert members("new_customers", [("in", inside), ("out", outside)], d, "US") == {"in"}


def test_one_pass_gives_what_each_segment_asked_alone_gives() -> None:
    population: list[tuple[str, Relationship]] = [
        ("new", fold([ordered(th("2024-06-20"), "o1", 50.0)])),
        ("repeat", fold([ordered(th("2024-03-01"), "o1", 10.0), ordered(th("2024-06-01"), "o2")])),
        ("lapsed", fold([ordered(th("2023-06-01"), "o1", 999.0)])),
        ("follower", fold([followed(th("2024-01-01"))])),
        ("cart", fold([cart_added(th("2024-06-28"))])),
        ("visitor", fold([viewed(th("2024-06-28")), followed(th("2024-06-01"))])),
        ("nobody", EMPTY),
    ]
    everything = memberships(population, D, "TH")
    assert set(everything) == set(BUILTIN_SEGMENT_IDS)
    for segment in BUILTIN_SEGMENT_IDS:
        assert members(segment, iter(population), D, "TH") == everything[segment]
    assert everything == {
        "new_customers": {"new"},
        "repeat_customers": {"repeat"},
        # 3 customers spent in 365 days (the lapsed one's order is 13 months old): one place.
        "high_value_customers": {"repeat"},
        "lapsed_customers": {"lapsed"},
        "followers_not_purchased": {"follower", "visitor"},
        "cart_abandoners": {"cart"},
        "engaged_visitors": {"visitor"},
    }


def test_every_segment_but_high_value_is_judged_per_relationship() -> None:
    assert set(RELATIONSHIP_RULES) == set(BUILTIN_SEGMENT_IDS) - {"high_value_customers"}
    assert len(BUILTIN_SEGMENT_IDS) == 7


def test_an_unknown_segment_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown built-in segment 'vip'"):
        members("vip", [], D, "TH")  # type: ignore[arg-type]


def test_a_tally_fed_in_pages_gives_the_one_pass_memberships() -> None:
    def buyer(n: int) -> Relationship:
        return fold([ordered(th("2024-06-01"), f"o{n}", float(n * 10)), followed(th("2024-01-01"))])

    population = [(f"c{n}", buyer(n)) for n in range(1, 25)]
    population.append(("cart", fold([cart_added(th("2024-06-28"))])))
    tally = BuiltinTally(cutoff(D, "TH"))
    for start in range(0, len(population), 7):
        for customer_id, rel in population[start : start + 7]:
            tally.add(customer_id, rel)
    first = tally.members()
    assert first == memberships(population, D, "TH")
    # 24 spenders give 3 places: the three biggest.
    assert first["high_value_customers"] == {"c22", "c23", "c24"}
    # Asking again, or changing what was answered, leaves the tally as it was.
    first["cart_abandoners"].clear()
    assert tally.members() == memberships(population, D, "TH")
