"""Automated plans: each firing sends its customer the plan once, a second firing of the
same pair is suppressed as already messaged, and a crash inside the firings' transaction
neither loses nor repeats one. The last chunk of a one-time plan, killed with its
completion in flight, completes once."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.plans import Plan, PlanStarted, Trigger
from schemas.segments import AutomatedPlanFired
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.delivery.support import (
    DELIVERY_TOPICS,
    SELLER,
    committed,
    completion,
    dispatch,
    one_time_plan,
    pairs,
    publish,
    running_delivery,
    shop,
)

pytestmark = pytest.mark.integration

Topics = Callable[..., Awaitable[list[str]]]


def _automated(plan_id: str) -> Plan:
    now = datetime.now(UTC)
    return one_time_plan(plan_id, segment_id="cart_abandoners").model_copy(
        update={
            "type": "automated",
            "status": "ongoing",
            "send_now": False,
            "trigger": Trigger(type="cart_abandoned"),
            "starts_at": now - timedelta(hours=1),
            "ends_at": now + timedelta(days=7),
            "dispatched_at": None,
            "quota_at": None,
        }
    )


def _started(plan: Plan) -> PlanStarted:
    return PlanStarted(
        event_id=uuid.uuid4(),
        occurred_at=plan.updated_at,
        seller_id=SELLER,
        plan_id=plan.plan_id,
        correlation_id=None,
        plan=plan,
    )


def _fired(plan: Plan, customer: str) -> AutomatedPlanFired:
    now = datetime.now(UTC)
    return AutomatedPlanFired(
        event_id=uuid.uuid4(),
        occurred_at=now,
        seller_id=SELLER,
        plan_id=plan.plan_id,
        plan_version=plan.version,
        customer_id=customer,
        trigger=Trigger(type="cart_abandoned", after_hours=24),
        due_at=now,
    )


async def test_a_pair_fired_twice_is_messaged_once(settings: Settings, topics: Topics) -> None:
    await topics(*DELIVERY_TOPICS)
    plan = _automated("auto1")
    async with shop(settings) as seller:
        await seller.activate()
        await publish(settings, "crm.plan-events", [_started(plan)], SELLER)
        async with running_delivery(settings):
            await publish(
                settings,
                "crm.plan-firings",
                [_fired(plan, "a"), _fired(plan, "b"), _fired(plan, "a")],
                SELLER,
            )
            messages = await committed(settings, "crm.outbound-messages", expected=2)
            await publish(settings, "crm.plan-firings", [_fired(plan, "b")], SELLER)
            progress = await committed(settings, "crm.delivery-progress", expected=2)
    assert sorted(pairs(messages)) == [("auto1", "a"), ("auto1", "b")]
    assert all(m.plan_type == "automated" for m in messages)
    latest = max(progress, key=lambda p: p.recipients)
    assert (latest.recipients, latest.sent) == (4, 2)
    assert latest.suppressed == {"already_messaged": 2}
    assert not latest.done


async def test_a_crash_inside_the_firings_transaction_loses_and_repeats_nothing(
    settings: Settings, topics: Topics, tmp_path: Path
) -> None:
    await topics(*DELIVERY_TOPICS)
    plan = _automated("auto2")
    customers = [f"c{n:03d}" for n in range(300)]
    log = tmp_path / "delivery.log"
    async with shop(settings) as seller:
        await seller.activate()
        await publish(settings, "crm.plan-events", [_started(plan)], SELLER)
        await publish(settings, "crm.plan-firings", [_fired(plan, c) for c in customers], SELLER)
        crashing = WorkerProcess("delivery", settings, log, CRM_DELIVERY_CRASH_POINT="firings_sent")
        crashing.start()
        assert crashing.process is not None
        assert crashing.process.wait(timeout=120) == -9
        worker = WorkerProcess("delivery", settings, log)
        worker.start()
        try:
            await worker.wait_ready()
            messages = await committed(settings, "crm.outbound-messages", expected=300)
        finally:
            worker.stop()
    assert pairs(messages) == {("auto2", c): 1 for c in customers}


async def test_a_kill_with_the_completion_in_flight_completes_once(
    settings: Settings, topics: Topics, tmp_path: Path
) -> None:
    await topics(*DELIVERY_TOPICS)
    customers = [f"c{n:04d}" for n in range(5000)]
    log = tmp_path / "delivery.log"
    env = {"CRM_DELIVERY_CHUNK_SIZE": "1000"}
    async with shop(settings) as seller:
        await seller.activate()
        await seller.members("followers_not_purchased", customers)
        await dispatch(settings, one_time_plan("p1"))
        # The 5th chunk is the last: its transaction carries CompletePlan and the offset.
        crashing = WorkerProcess(
            "delivery", settings, log, CRM_DELIVERY_CRASH_POINT="chunk_sent@5", **env
        )
        crashing.start()
        assert crashing.process is not None
        assert crashing.process.wait(timeout=120) == -9
        worker = WorkerProcess("delivery", settings, log, **env)
        worker.start()
        try:
            done = await completion(settings, "p1")
            messages = await committed(settings, "crm.outbound-messages", expected=5000)
        finally:
            worker.stop()
    assert pairs(messages) == {("p1", c): 1 for c in customers}
    assert (done.recipients, done.sent) == (5000, 5000)
