"""When the firing engine looks at a (plan, customer) pair: looking only then finds every
firing, at the moment a look at every instant would."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.plans import Trigger
from services.customers.domain.relationship import EMPTY, RelationshipEvent, fold, to_stored_json
from services.customers.domain.trigger_timing import candidates, live_window, next_look
from services.customers.domain.triggers import should_fire
from services.customers.firing.trigger_engine import ANCHOR_FIELDS
from tests.unit.customers.builders import (
    cart_added,
    followed,
    local,
    ordered,
    unfollowed,
    utc,
    viewed,
)

pytestmark = pytest.mark.unit

STARTS = utc("2024-06-01T00:00")
ENDS = utc("2024-07-01T00:00")
WINDOW = (STARTS, ENDS)
T = utc("2024-06-10T09:30")
TICK = timedelta(microseconds=1)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)

CART = Trigger(type="cart_abandoned")
FOLLOW = Trigger(type="new_follower")
PURCHASE = Trigger(type="post_purchase")
WIN_BACK = Trigger(type="win_back")


# --- live_window ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("started_at", "expected_start"),
    [
        pytest.param(None, STARTS, id="start unknown: the timeframe"),
        pytest.param(STARTS - DAY, STARTS, id="started before its timeframe"),
        pytest.param(T, T, id="started late (backdated starts_at): from the start"),
    ],
)
def test_a_plan_is_live_from_the_later_of_starts_at_and_its_start(
    started_at: datetime | None, expected_start: datetime
) -> None:
    assert live_window(STARTS, ENDS, started_at) == (expected_start, ENDS)


def test_the_live_window_is_in_utc_whatever_zone_the_plan_used() -> None:
    starts, ends = local("TH", "2024-06-01"), local("US", "2024-07-01")
    window = live_window(starts, ends, None)
    assert window == (starts, ends)
    assert all(instant.utcoffset() == timedelta(0) for instant in window)


# --- candidates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "events", "expected"),
    [
        pytest.param(CART, [cart_added(T), cart_added(T + HOUR, "p2")], [T + 25 * HOUR]),
        pytest.param(FOLLOW, [followed(T), unfollowed(T + HOUR)], [T]),
        pytest.param(
            PURCHASE, [ordered(T, "o1"), ordered(T + DAY, "o2")], [T + 3 * DAY, T + 4 * DAY]
        ),
        pytest.param(WIN_BACK, [ordered(T, "o1")], [T + 60 * DAY]),
        pytest.param(CART, [viewed(T), followed(T), ordered(T)], [], id="no cart add"),
        pytest.param(WIN_BACK, [cart_added(T)], [], id="no order"),
    ],
)
def test_candidates_are_the_anchors_plus_the_delay(
    trigger: Trigger, events: list[RelationshipEvent], expected: list[datetime]
) -> None:
    assert candidates(trigger, fold(events)) == expected


# --- next_look -----------------------------------------------------------------------------


def test_before_the_due_moment_the_look_is_the_due_moment() -> None:
    rel = fold([cart_added(T)])
    assert next_look(CART, rel, T, WINDOW) == T + 24 * HOUR


def test_after_the_due_moment_the_look_is_now_or_earlier_so_it_fires_at_once() -> None:
    rel = fold([cart_added(T)])
    assert next_look(CART, rel, T + 30 * HOUR, WINDOW) == T + 24 * HOUR


def test_an_order_in_the_wait_leaves_nothing_to_look_at() -> None:
    rel = fold([cart_added(T), ordered(T + HOUR)])
    assert next_look(CART, rel, T + 30 * HOUR, WINDOW) is None


def test_a_due_moment_outside_the_window_is_never_looked_at() -> None:
    assert next_look(CART, fold([cart_added(STARTS - 25 * HOUR)]), STARTS, WINDOW) is None
    assert next_look(CART, fold([cart_added(ENDS - 24 * HOUR)]), T, WINDOW) is None
    assert next_look(CART, fold([cart_added(ENDS - 24 * HOUR - TICK)]), T, WINDOW) == ENDS - TICK


def test_nothing_is_looked_at_from_the_end_of_the_window() -> None:
    assert next_look(FOLLOW, fold([followed(T)]), ENDS, WINDOW) is None


def test_an_interrupted_win_back_looks_at_the_next_order() -> None:
    rel = fold([ordered(STARTS - 50 * DAY, "o1"), ordered(STARTS - 20 * DAY, "o2")])
    # o1 + 60 days is inside the window but o2 came before it: the next chance is o2's.
    assert candidates(WIN_BACK, rel) == [STARTS + 40 * DAY]
    assert next_look(WIN_BACK, rel, STARTS, (STARTS, STARTS + 90 * DAY)) == STARTS + 40 * DAY
    assert next_look(WIN_BACK, rel, STARTS, WINDOW) is None


def test_an_empty_relationship_has_nothing_to_look_at() -> None:
    for trigger in (CART, FOLLOW, PURCHASE, WIN_BACK):
        assert next_look(trigger, EMPTY, T, WINDOW) is None


# --- the property the engine relies on -----------------------------------------------------

T0 = utc("2024-04-01T00:00")
instants = st.integers(min_value=0, max_value=150 * 24).map(lambda h: T0 + timedelta(hours=h))
events: st.SearchStrategy[RelationshipEvent] = st.one_of(
    st.builds(followed, instants),
    st.builds(unfollowed, instants),
    st.builds(cart_added, instants, st.sampled_from(["p1", "p2"])),
    st.builds(ordered, instants, st.sampled_from([f"o{i}" for i in range(6)])),
    st.builds(viewed, instants),
)
triggers = st.one_of(
    st.builds(Trigger, type=st.just("cart_abandoned"), after_hours=st.sampled_from([None, 1, 30])),
    st.just(FOLLOW),
    st.builds(Trigger, type=st.just("post_purchase"), after_days=st.sampled_from([None, 1, 10])),
    st.builds(Trigger, type=st.just("win_back"), after_days=st.sampled_from([None, 7, 30])),
)


@settings(max_examples=400, deadline=None)
@given(
    trigger=triggers,
    history=st.lists(events, max_size=12),
    start=instants,
    length_hours=st.integers(min_value=1, max_value=90 * 24),
    first_look=instants,
)
def test_looking_only_at_next_look_fires_when_looking_always_would(
    trigger: Trigger,
    history: list[RelationshipEvent],
    start: datetime,
    length_hours: int,
    first_look: datetime,
) -> None:
    rel = fold(history)
    window = (start, start + timedelta(hours=length_hours))
    end = window[1]

    def fires(now: datetime) -> bool:
        return should_fire(trigger, rel, now, *window, already_fired=False)

    # The moments a look at every instant could first see a firing: the candidates, the
    # first look itself, and just before each (to see nothing fires early).
    probes = sorted(
        {first_look, *candidates(trigger, rel)} | {c - TICK for c in candidates(trigger, rel)}
    )
    truth = next((at for at in probes if at >= first_look and fires(at)), None)

    now = first_look
    for _ in range(len(probes) + 2):
        look = next_look(trigger, rel, now, window)
        if look is None:
            assert truth is None, f"next_look gave up, but it fires at {truth}"
            return
        if look <= now:
            assert fires(now)
            assert truth == now
            return
        assert not fires(look - TICK) or look - TICK < first_look
        assert not fires(now)
        assert look < end
        now = look
    pytest.fail("next_look did not settle")


@settings(max_examples=300, deadline=None)
@given(trigger=triggers, history=st.lists(events, max_size=12))
def test_the_scan_skips_only_relationships_that_cannot_arm_the_trigger(
    trigger: Trigger, history: list[RelationshipEvent]
) -> None:
    rel = fold(history)
    raw = to_stored_json(rel)
    if candidates(trigger, rel):
        assert any(field in raw for field in ANCHOR_FIELDS[trigger.type])
