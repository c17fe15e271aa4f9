"""Each transactional loop under a record its handler keeps failing on (SPEC section 6):
the record is retried, then dead-lettered with the reason, its offset is committed, and
the loop goes on with the next record. (The firing engine folds crm.plan-events from the
start on every start and commits no offsets: there the record is skipped.) The shared
consume loop and faust have theirs in test_consume_policy.py and
test_faust_dead_letters.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import TopicPartition

from demo.sample_status import sample_status
from schemas.dead_letter import DeadLetter
from schemas.plans import CreatePlan, PlanStarted
from services.customers.firing.plans import LivePlans
from services.delivery.fanout import FanOut
from services.outreach.handlers import Handlers
from services.shared import groups
from services.shared.codec import decode, encode
from services.shared.kafka import new_consumer, new_producer
from services.shared.settings import Settings
from tests.integration.customers.firing_support import (
    FIRING_TOPICS,
    FixedClock,
    automated_plan,
    plan_event,
    running_engine,
)
from tests.integration.customers.firing_support import publish as publish_plans
from tests.integration.delivery.support import (
    DELIVERY_TOPICS,
    completion,
    dispatch,
    one_time_plan,
    running_delivery,
    shop,
)
from tests.integration.kafka_io import read_records
from tests.integration.outreach.processor_support import (
    OUTREACH_TOPICS,
    command,
    one_time_draft,
    outreach_stack,
)

pytestmark = pytest.mark.integration
BOOM = OverflowError("date value out of range")
REASON = "unhandled OverflowError after 5 attempts: date value out of range"


async def _letter(settings: Settings) -> DeadLetter:
    [record] = await read_records(settings, "crm.dead-letters", count=1)
    letter = decode("crm.dead-letters", record.value)
    assert isinstance(letter, DeadLetter)
    return letter


async def _committed(settings: Settings, group: str, topic: str, partition: int) -> int | None:
    consumer = new_consumer(settings, group_id=group)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(settings.topic(topic), partition))
    finally:
        await consumer.stop()


async def test_the_plan_processor_dead_letters_a_command_it_keeps_failing_on(
    settings: Settings, topics: Any, redis_url: str, test_id: str, monkeypatch: Any
) -> None:
    await topics(*OUTREACH_TOPICS)
    original = Handlers.command

    async def failing(self: Handlers, draft: Any, cmd: Any, now: datetime) -> Any:
        if cmd.plan_id == "poison":
            raise BOOM
        return await original(self, draft, cmd, now)

    monkeypatch.setattr(Handlers, "command", failing)
    seller = f"s{test_id}"
    settings = settings.model_copy(update={"redis_url": redis_url})
    async with outreach_stack(settings) as outreach:
        await outreach.set_status(sample_status(seller, weekly_quota=3))
        poison = command(CreatePlan, seller, "poison", draft=one_time_draft())
        producer = new_producer(settings)
        await producer.start()
        try:
            sent = await producer.send_and_wait(
                settings.topic("crm.plan-commands"), encode(poison), key=seller.encode()
            )
        finally:
            await producer.stop()
        # The next command of the same seller is answered: the processor went on.
        plan = await outreach.plan(CreatePlan, seller, "p1", draft=one_time_draft())
        assert plan.status == "draft"
        letter = await _letter(settings)
    assert (letter.source_topic, letter.offset) == (
        settings.topic("crm.plan-commands"),
        sent.offset,
    )
    assert (letter.error, letter.service) == (REASON, "outreach")
    committed = await _committed(
        settings, groups.outreach(settings), "crm.plan-commands", sent.partition
    )
    assert committed is not None
    assert committed > sent.offset


async def test_the_fan_out_dead_letters_a_dispatch_it_keeps_failing_on(
    settings: Settings, topics: Any, monkeypatch: Any
) -> None:
    await topics(*DELIVERY_TOPICS)
    original = FanOut._fan_out

    async def failing(self: FanOut, plan: Any, offsets: Any) -> None:
        if plan.plan_id == "poison":
            raise BOOM
        await original(self, plan, offsets)

    monkeypatch.setattr(FanOut, "_fan_out", failing)
    poison, fine = one_time_plan("poison"), one_time_plan("p2")
    async with shop(settings) as seller:
        await seller.activate()
        await seller.members(fine.segment_id, ["c1", "c2"])
        async with running_delivery(settings) as fan_out:
            await dispatch(settings, poison, fine)
            done = await completion(settings, "p2")
            assert fan_out.ready
        letter = await _letter(settings)
    assert done.recipients == 2
    assert (letter.source_topic, letter.error, letter.service) == (
        settings.topic("crm.plan-events"),
        REASON,
        "delivery",
    )
    committed = await _committed(
        settings, groups.delivery(settings), "crm.plan-events", letter.partition
    )
    assert committed is not None
    assert committed > letter.offset


async def test_the_firing_engine_dead_letters_a_plan_event_it_keeps_failing_on(
    settings: Settings, topics: Any, monkeypatch: Any
) -> None:
    await topics(*FIRING_TOPICS, "crm.dead-letters")
    original = LivePlans.apply

    def failing(self: LivePlans, plan: Any) -> Any:
        if plan.plan_id == "poison":
            raise BOOM
        return original(self, plan)

    monkeypatch.setattr(LivePlans, "apply", failing)
    now = datetime.now(UTC)
    trigger = {"type": "cart_abandoned"}
    poison = automated_plan("poison", trigger, now - timedelta(hours=1), now + timedelta(days=1))
    fine = automated_plan("fine", trigger, now - timedelta(hours=1), now + timedelta(days=1))
    async with running_engine(settings, FixedClock(now)) as harness:
        await harness.start_plan(fine)  # ready, and following plans
        await publish_plans(
            settings,
            "crm.plan-events",
            [plan_event(PlanStarted, poison), plan_event(PlanStarted, fine)],
        )
        letter = await _letter(settings)
        await asyncio.sleep(0.5)
        assert harness.engine.plans.get("fine") is not None
        assert harness.engine.plans.get("poison") is None
        assert harness.engine.ready
    assert (letter.source_topic, letter.error, letter.service) == (
        settings.topic("crm.plan-events"),
        REASON,
        "customers",
    )
