"""Automated-plan triggers: each fires at its delay, not a microsecond before, only inside
the timeframe, at most once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from schemas.plans import Trigger
from services.customers.domain.relationship import EMPTY, Relationship, RelationshipEvent, fold
from services.customers.domain.triggers import delay, due_at, firing_moment, should_fire
from tests.unit.customers.builders import (
    cart_added,
    followed,
    ordered,
    unfollowed,
    utc,
    viewed,
)

pytestmark = pytest.mark.unit

STARTS = utc("2024-06-01T00:00")
ENDS = utc("2024-07-01T00:00")
T = utc("2024-06-10T09:30")  # a moment well inside the timeframe
TICK = timedelta(microseconds=1)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)

CART = Trigger(type="cart_abandoned")
FOLLOW = Trigger(type="new_follower")
PURCHASE = Trigger(type="post_purchase")
WIN_BACK = Trigger(type="win_back")


def fires(
    trigger: Trigger,
    rel: Relationship,
    now: datetime,
    starts: datetime = STARTS,
    ends: datetime = ENDS,
    already_fired: bool = False,
) -> bool:
    return should_fire(trigger, rel, now, starts, ends, already_fired)


def fires_exactly_at(trigger: Trigger, rel: Relationship, moment: datetime) -> bool:
    """Fires at `moment` and later, never a microsecond before."""
    return (
        not fires(trigger, rel, moment - TICK)
        and fires(trigger, rel, moment)
        and fires(trigger, rel, moment + HOUR)
    )


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (CART, 24 * HOUR),
        (Trigger(type="cart_abandoned", after_hours=2), 2 * HOUR),
        (FOLLOW, timedelta(0)),
        (PURCHASE, 3 * DAY),
        (Trigger(type="post_purchase", after_days=1), DAY),
        (WIN_BACK, 60 * DAY),
        (Trigger(type="win_back", after_days=30), 30 * DAY),
    ],
)
def test_delays_with_the_spec_defaults(trigger: Trigger, expected: timedelta) -> None:
    assert delay(trigger) == expected


# --- cart_abandoned ----------------------------------------------------------------------


def test_cart_abandoned_fires_24_hours_after_the_cart_add() -> None:
    event = cart_added(T)
    rel = fold([event])
    assert due_at(CART, rel, event) == T + 24 * HOUR
    assert fires_exactly_at(CART, rel, T + 24 * HOUR)


def test_cart_abandoned_waits_the_plans_own_hours() -> None:
    trigger = Trigger(type="cart_abandoned", after_hours=2)
    event = cart_added(T)
    assert due_at(trigger, fold([event]), event) == T + 2 * HOUR
    assert fires_exactly_at(trigger, fold([event]), T + 2 * HOUR)


@pytest.mark.parametrize(
    ("order_at", "expected"),
    [
        pytest.param(T + 24 * HOUR - TICK, False, id="order just inside the wait"),
        pytest.param(T, False, id="order at the instant of the cart add"),
        pytest.param(T + 24 * HOUR, True, id="order at the due moment: too late"),
        pytest.param(T - TICK, True, id="order just before the cart add"),
    ],
)
def test_an_order_within_the_wait_cancels_it(order_at: datetime, expected: bool) -> None:
    rel = fold([cart_added(T), ordered(order_at)])
    assert fires(CART, rel, T + 30 * HOUR) is expected


def test_a_later_cart_add_restarts_the_wait() -> None:
    second = cart_added(T + 10 * HOUR, "p2")
    rel = fold([cart_added(T), second])
    assert due_at(CART, rel, second) == T + 34 * HOUR
    assert due_at(CART, rel, cart_added(T)) == T + 34 * HOUR  # a late first add changes nothing
    assert fires_exactly_at(CART, rel, T + 34 * HOUR)


def test_only_cart_adds_arm_cart_abandoned() -> None:
    event = viewed(T)
    assert due_at(CART, fold([event]), event) is None
    assert not fires(CART, fold([event]), T + 48 * HOUR)
    assert not fires(CART, EMPTY, T + 48 * HOUR)


# --- new_follower --------------------------------------------------------------------------


def test_new_follower_fires_at_the_follow() -> None:
    event = followed(T)
    rel = fold([event])
    assert due_at(FOLLOW, rel, event) == T
    assert fires_exactly_at(FOLLOW, rel, T)


def test_a_follow_and_unfollow_at_one_instant_is_no_follow() -> None:
    assert not fires(FOLLOW, fold([followed(T), unfollowed(T)]), T + HOUR)


def test_an_unfollow_after_the_follow_does_not_undo_a_due_moment() -> None:
    # Judged as of the follow, as an on-time look would have: it was a new follower then.
    assert fires(FOLLOW, fold([followed(T), unfollowed(T + HOUR)]), T + 2 * HOUR)


def test_a_follow_before_the_timeframe_does_not_fire_a_new_follow_inside_does() -> None:
    before = fold([followed(STARTS - TICK)])
    assert not fires(FOLLOW, before, T)
    again = fold([followed(STARTS - DAY), unfollowed(STARTS - HOUR), followed(T)])
    assert fires_exactly_at(FOLLOW, again, T)


# --- post_purchase -------------------------------------------------------------------------


def test_post_purchase_fires_3_days_after_the_order() -> None:
    event = ordered(T)
    rel = fold([event])
    assert due_at(PURCHASE, rel, event) == T + 3 * DAY
    assert fires_exactly_at(PURCHASE, rel, T + 3 * DAY)


def test_post_purchase_fires_for_the_first_order_whose_delay_ends_in_the_timeframe() -> None:
    rel = fold([ordered(T, "o1"), ordered(T + DAY, "o2")])
    assert firing_moment(PURCHASE, rel, T + 10 * DAY, STARTS, ENDS) == T + 3 * DAY
    assert fires_exactly_at(PURCHASE, rel, T + 3 * DAY)


def test_post_purchase_waits_the_plans_own_days() -> None:
    trigger = Trigger(type="post_purchase", after_days=1)
    assert fires_exactly_at(trigger, fold([ordered(T)]), T + DAY)


# --- win_back ------------------------------------------------------------------------------


def test_win_back_fires_60_days_after_the_last_order() -> None:
    last = ordered(T - 50 * DAY, "o2")
    rel = fold([ordered(T - 80 * DAY, "o1"), last])
    assert due_at(WIN_BACK, rel, last) == T + 10 * DAY
    assert fires_exactly_at(WIN_BACK, rel, T + 10 * DAY)


def test_a_new_order_postpones_win_back() -> None:
    rel = fold([ordered(T - 50 * DAY, "o1"), ordered(T + 5 * DAY, "o2")])
    assert not fires(WIN_BACK, rel, T + 10 * DAY)
    assert not fires(WIN_BACK, rel, T + 65 * DAY)  # due after the plan ends
    long_plan = (STARTS, utc("2025-01-01T00:00"))
    assert firing_moment(WIN_BACK, rel, T + 65 * DAY, *long_plan) == T + 65 * DAY


def test_win_back_found_late_is_the_moment_an_on_time_look_found() -> None:
    # 61 quiet days after o1, then o2: win_back was due at o1 + 60 days, whenever we look.
    rel = fold([ordered(T - 55 * DAY, "o1"), ordered(T + 6 * DAY, "o2")])
    assert firing_moment(WIN_BACK, rel, T + 20 * DAY, STARTS, ENDS) == T + 5 * DAY
    assert fires(WIN_BACK, rel, T + 20 * DAY)


def test_win_back_needs_an_order() -> None:
    assert not fires(WIN_BACK, fold([followed(STARTS - 100 * DAY)]), T)
    assert due_at(WIN_BACK, EMPTY, followed(T)) is None


# --- the timeframe, shared -----------------------------------------------------------------

EVERY_TRIGGER: list[tuple[Trigger, RelationshipEvent, timedelta]] = [
    (CART, cart_added(T), 24 * HOUR),
    (FOLLOW, followed(T), timedelta(0)),
    (PURCHASE, ordered(T), 3 * DAY),
    (WIN_BACK, ordered(T), 60 * DAY),
]


@pytest.mark.parametrize(("trigger", "event", "wait"), EVERY_TRIGGER, ids=lambda x: str(x)[:20])
def test_never_before_the_delay_never_outside_the_timeframe_at_most_once(
    trigger: Trigger, event: RelationshipEvent, wait: timedelta
) -> None:
    rel = fold([event])
    due = T + wait
    assert due_at(trigger, rel, event) == due
    assert fires(trigger, rel, due, STARTS, due + TICK)
    assert not fires(trigger, rel, due - TICK, STARTS, due + TICK)
    # The due moment must be inside [starts_at, ends_at) …
    assert not fires(trigger, rel, due, STARTS, due)
    assert not fires(trigger, rel, due, due + TICK, due + DAY)
    assert fires(trigger, rel, due, due, due + DAY)
    # … and so must the send: a late look after the end sends nothing.
    assert fires(trigger, rel, due + DAY - TICK, STARTS, due + DAY)
    assert not fires(trigger, rel, due + DAY, STARTS, due + DAY)
    # At most once per customer per plan.
    assert not fires(trigger, rel, due, STARTS, due + DAY, already_fired=True)


@pytest.mark.parametrize(
    ("trigger", "event", "wait"), EVERY_TRIGGER[:1] + EVERY_TRIGGER[2:], ids=["cart", "po", "wb"]
)
def test_an_event_before_the_start_fires_if_its_due_moment_is_inside(
    trigger: Trigger, event: RelationshipEvent, wait: timedelta
) -> None:
    # The documented reading: only the due moment has to be inside the timeframe.
    rel = fold([event])
    starts = T + wait - 2 * HOUR  # the event came before the plan started
    assert fires(trigger, rel, T + wait, starts, starts + DAY)
    assert not fires(trigger, rel, T + wait, T + wait + TICK, starts + DAY)


def test_a_cart_add_two_hours_before_the_start_fires_22_hours_in() -> None:
    rel = fold([cart_added(STARTS - 2 * HOUR)])
    assert firing_moment(CART, rel, STARTS + 30 * HOUR, STARTS, ENDS) == STARTS + 22 * HOUR
    assert fires_exactly_at(CART, rel, STARTS + 22 * HOUR)


def test_the_timeframe_may_be_written_in_any_offset() -> None:
    bangkok = timezone(timedelta(hours=7))
    rel = fold([cart_added(T)])
    due = T + 24 * HOUR
    ends_in_bangkok = due.astimezone(bangkok)  # the same instant as the due moment
    assert not fires(CART, rel, due, STARTS.astimezone(bangkok), ends_in_bangkok)
    assert fires(CART, rel, due, STARTS.astimezone(bangkok), ends_in_bangkok + TICK)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        should_fire(CART, EMPTY, datetime(2024, 6, 1), STARTS, ENDS, False)
