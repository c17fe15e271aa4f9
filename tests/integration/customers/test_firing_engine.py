"""The trigger engine against the real Kafka and Redis, with a clock the test moves: each
automated plan fires once per customer, at its due moment, inside its timeframe only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.customers.domain.relationship import RelationshipEvent
from services.customers.firing.events import firing_id
from services.customers.recompute import Recompute
from services.shared.settings import Settings
from tests.integration.customers.firing_support import (
    FIRING_TOPICS,
    ORDERED_BEFORE,
    SELLER,
    FixedClock,
    automated_plan,
    running_engine,
)
from tests.unit.customers.builders import cart_added, followed, ordered, utc

STARTS = utc("2024-06-10T09:30")
ENDS = STARTS + timedelta(days=90)
SECOND, HOUR, DAY = timedelta(seconds=1), timedelta(hours=1), timedelta(days=1)


@pytest.fixture
async def firing_settings(
    settings: Settings, topics: Callable[..., Any], redis_url: str
) -> Settings:
    await topics(*FIRING_TOPICS)
    return settings.model_copy(update={"redis_url": redis_url})


@dataclass(frozen=True)
class Case:
    trigger: dict[str, Any]
    arm: Callable[[datetime], RelationshipEvent]
    delay: timedelta


CASES = {
    "cart_abandoned": Case({"type": "cart_abandoned"}, cart_added, 24 * HOUR),
    "new_follower": Case({"type": "new_follower"}, followed, timedelta(0)),
    "post_purchase": Case({"type": "post_purchase"}, ordered, 3 * DAY),
    "win_back": Case({"type": "win_back"}, ordered, 60 * DAY),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_each_trigger_fires_once_per_customer_at_its_due_moment_inside_the_timeframe(
    name: str, firing_settings: Settings
) -> None:
    case = CASES[name]
    plan = automated_plan("plan-1", case.trigger, STARTS, ENDS)
    armed_at = STARTS + HOUR
    due = armed_at + case.delay
    async with running_engine(firing_settings, FixedClock(STARTS)) as h:
        await h.define_segment(*ORDERED_BEFORE)
        await h.start_plan(plan)
        h.clock.now = armed_at
        for customer in ("c-a", "c-b"):
            await h.arm(customer, [case.arm(armed_at)])
        # Due a second before the timeframe starts, and exactly at its end: never.
        await h.arm("c-early", [case.arm(STARTS - case.delay - SECOND)])
        await h.arm("c-at-end", [case.arm(ENDS - case.delay)])

        if case.delay:
            assert await h.at(due - SECOND) == []
        fired = await h.at(due)
        assert sorted(f.customer_id for f in fired) == ["c-a", "c-b"]
        for firing in fired:
            assert firing.event_id == firing_id("plan-1", firing.customer_id)
            assert (firing.plan_id, firing.plan_version, firing.seller_id) == ("plan-1", 2, SELLER)
            assert (firing.due_at, firing.occurred_at, firing.trigger.type) == (due, due, name)

        # The same events handed on again, and time passing to the end: nothing more.
        await h.arm("c-a", [case.arm(armed_at)])
        assert len(await h.at(due + HOUR)) == 2
        assert len(await h.at(ENDS - SECOND)) == 2
        assert len(await h.at(ENDS + DAY)) == 2
        assert len(h.engine.schedule) == 0


async def test_an_order_within_the_wait_cancels_the_cart_reminder(
    firing_settings: Settings,
) -> None:
    plan = automated_plan("plan-1", {"type": "cart_abandoned"}, STARTS, ENDS)
    async with running_engine(firing_settings, FixedClock(STARTS)) as h:
        await h.start_plan(plan)
        await h.arm("c-waits", [cart_added(STARTS + HOUR)])
        await h.arm("c-buys", [cart_added(STARTS + HOUR)])
        h.clock.now = STARTS + 2 * HOUR
        await h.arm("c-buys", [ordered(STARTS + 2 * HOUR)])
        assert await h.firings.pairs() == []
        await h.at(STARTS + 25 * HOUR)
        assert await h.firings.pairs() == [("plan-1", "c-waits")]
        # A later cart add by the buyer arms the reminder again (its first firing).
        await h.arm("c-buys", [cart_added(STARTS + 30 * HOUR, "p2")])
        await h.at(STARTS + 54 * HOUR)
        assert await h.firings.pairs() == [("plan-1", "c-buys"), ("plan-1", "c-waits")]


async def test_a_cancelled_plan_stops_firing(firing_settings: Settings) -> None:
    plan = automated_plan("plan-1", {"type": "cart_abandoned"}, STARTS, ENDS)
    async with running_engine(firing_settings, FixedClock(STARTS)) as h:
        await h.start_plan(plan)
        await h.arm("c-early", [cart_added(STARTS)])
        await h.arm("c-late", [cart_added(STARTS + 5 * HOUR)])
        assert await h.at(STARTS + 24 * HOUR) != []
        await h.cancel_plan(plan)
        assert len(h.engine.schedule) == 0
        await h.arm("c-new", [cart_added(STARTS + 25 * HOUR)])
        await h.at(STARTS + 3 * DAY)
        assert await h.firings.pairs() == [("plan-1", "c-early")]


async def test_two_plans_of_one_seller_fire_independently(firing_settings: Settings) -> None:
    quick = automated_plan("quick", {"type": "cart_abandoned", "after_hours": 2}, STARTS, ENDS)
    slow = automated_plan("slow", {"type": "cart_abandoned"}, STARTS, ENDS)
    welcome = automated_plan("welcome", {"type": "new_follower"}, STARTS, ENDS)
    async with running_engine(firing_settings, FixedClock(STARTS)) as h:
        for plan in (quick, slow, welcome):
            await h.start_plan(plan)
        await h.arm("c1", [cart_added(STARTS + HOUR), followed(STARTS + HOUR)])
        await h.at(STARTS + 3 * HOUR)
        assert await h.firings.pairs() == [("quick", "c1"), ("welcome", "c1")]
        await h.cancel_plan(quick)  # cancelling one leaves the others alone
        await h.at(STARTS + 25 * HOUR)
        assert await h.firings.pairs() == [("quick", "c1"), ("slow", "c1"), ("welcome", "c1")]


async def test_a_backdated_plan_does_not_fire_for_what_came_due_before_it_started(
    firing_settings: Settings,
) -> None:
    started = STARTS + 5 * DAY
    plan = automated_plan("plan-1", {"type": "cart_abandoned"}, STARTS, ENDS, submitted_at=started)
    async with running_engine(firing_settings, FixedClock(started)) as h:
        await h.arm("c-old", [cart_added(started - 2 * DAY)])
        await h.arm("c-just", [cart_added(started - 23 * HOUR)])
        await h.start_plan(plan)  # the start-up scan of the seller finds both
        await h.at(started + 2 * HOUR)
        assert await h.firings.pairs() == [("plan-1", "c-just")]


async def test_a_restarted_engine_fires_what_came_due_while_it_was_down_and_nothing_twice(
    firing_settings: Settings,
) -> None:
    plan = automated_plan("plan-1", {"type": "cart_abandoned"}, STARTS, ENDS)
    clock = FixedClock(STARTS)
    async with running_engine(firing_settings, clock) as h:
        await h.start_plan(plan)
        await h.arm("c-before", [cart_added(STARTS)])
        await h.arm("c-while-down", [cart_added(STARTS + 10 * HOUR)])
        assert [f.customer_id for f in await h.at(STARTS + 24 * HOUR)] == ["c-before"]
    clock.now = STARTS + 40 * HOUR
    async with running_engine(firing_settings, clock) as again:
        assert ("plan-1", "c-before") in again.engine.fired  # folded from the log
        fired = await again.at(STARTS + 40 * HOUR)
        assert sorted(f.customer_id for f in fired) == ["c-before", "c-while-down"]
        late = next(f for f in fired if f.customer_id == "c-while-down")
        assert (late.due_at, late.occurred_at) == (STARTS + 34 * HOUR, STARTS + 40 * HOUR)


async def test_firings_wait_for_the_projection_to_apply_the_events_before_them(
    firing_settings: Settings,
) -> None:
    plan = automated_plan("plan-1", {"type": "cart_abandoned"}, STARTS, ENDS)
    applied: list[datetime | None] = [None]

    async def watermark() -> datetime | None:
        return applied[0]

    async with running_engine(firing_settings, FixedClock(STARTS), watermark) as h:
        await h.start_plan(plan)
        await h.arm("c-waits", [cart_added(STARTS + HOUR)])
        await h.arm("c-buys", [cart_added(STARTS + HOUR)])
        assert await h.at(STARTS + 26 * HOUR) == []  # how far it applied: not known yet
        applied[0] = STARTS + 2 * HOUR
        assert await h.at(STARTS + 26 * HOUR) == []  # due, but the projection is behind
        # The backlog holds c-buys' order, placed inside the wait: it cancels the reminder.
        await h.arm("c-buys", [ordered(STARTS + 3 * HOUR)])
        applied[0] = STARTS + 26 * HOUR
        await h.at(STARTS + 26 * HOUR)
        assert await h.firings.pairs() == [("plan-1", "c-waits")]


async def test_a_plan_fires_only_for_members_of_its_segment_at_the_due_moment(
    firing_settings: Settings,
) -> None:
    """high_value_customers is judged against the latest daily threshold; a built-in
    segment on the relationship as it stands when the trigger comes due."""
    thanks = automated_plan(
        "thanks", {"type": "post_purchase"}, STARTS, ENDS, segment_id="high_value_customers"
    )
    welcome = automated_plan("welcome", {"type": "new_follower"}, STARTS, ENDS)
    async with running_engine(firing_settings, FixedClock(STARTS)) as h:
        # Ten spenders of 100 before the plans: one place in the top 10 %, tied, so
        # nobody has it; the threshold to beat is 100.
        for n in range(10):
            await h.arm(f"regular-{n}", [ordered(STARTS - 10 * DAY, f"o-{n}", gmv=100.0)])
        recompute = Recompute(h.store, h.engine.definitions, h.clock)
        assert (await recompute.seller(SELLER)).sizes["high_value_customers"] == 0
        assert await h.store.high_value_threshold(SELLER) == 100.0
        await h.start_plan(thanks)
        await h.start_plan(welcome)
        h.clock.now = STARTS + HOUR
        await h.arm("whale", [ordered(STARTS + HOUR, "o-whale", gmv=500.0)])
        await h.arm("minnow", [ordered(STARTS + HOUR, "o-minnow", gmv=50.0)])
        # A follower who already bought is not a follower who never purchased.
        await h.arm("fan", [followed(STARTS + HOUR)])
        await h.arm("buyer", [ordered(STARTS - DAY, "o-buyer"), followed(STARTS + HOUR)])
        await h.at(STARTS + HOUR + 3 * DAY)
        assert await h.firings.pairs() == [("thanks", "whale"), ("welcome", "fan")]
        assert len(h.engine.schedule) == 0  # nothing left to look at for the others


async def test_a_due_pair_waits_while_the_sellers_market_is_unknown(
    firing_settings: Settings,
) -> None:
    plan = automated_plan("plan-1", {"type": "cart_abandoned"}, STARTS, ENDS)
    async with running_engine(firing_settings, FixedClock(STARTS)) as h:
        await h.store.redis.hdel(h.store.markets_key, SELLER)
        await h.start_plan(plan)
        await h.arm("c1", [cart_added(STARTS + HOUR)])
        assert await h.at(STARTS + 25 * HOUR) == []  # no calendar to judge its segment by
        await h.store.set_markets({SELLER: "TH"})  # its first metrics report arrives
        fired = await h.at(STARTS + 25 * HOUR + timedelta(minutes=1))
        assert [(f.customer_id, f.due_at) for f in fired] == [("c1", STARTS + 25 * HOUR)]
