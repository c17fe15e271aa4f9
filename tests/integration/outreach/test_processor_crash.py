"""Kill the plan processor between a submit and its answer, restart it: the plan ends in
one consistent state, its quota unit is taken once, and its events are published once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from demo.sample_status import sample_status
from schemas.plans import CreatePlan, SubmitPlan
from services.outreach.gateway import ReplyTimeout
from services.shared.codec import decode
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.kafka_io import read_until_idle
from tests.integration.outreach.processor_support import (
    OUTREACH_TOPICS,
    one_time_draft,
    outreach_stack,
)


@pytest.mark.parametrize("point", ["after_quota", "before_commit"])
async def test_a_crash_between_submit_and_answer_takes_quota_at_most_once(
    point: str, settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*OUTREACH_TOPICS)
    seller = "crash-seller"
    log = tmp_path / "outreach.log"
    crashing = WorkerProcess("outreach", settings, log, CRM_OUTREACH_CRASH_POINT=point)
    crashing.start()
    try:
        await crashing.wait_ready()
        async with outreach_stack(settings, processor=False) as outreach:
            outreach.gateway.timeout = 8
            await outreach.set_status(sample_status(seller, weekly_quota=3))
            created = await outreach.plan(
                CreatePlan, seller, "p1", draft=one_time_draft(timedelta(hours=3))
            )
            with pytest.raises(ReplyTimeout):
                await outreach.send(SubmitPlan, seller, "p1")
            assert crashing.process is not None
            assert crashing.process.wait(timeout=30) == -9, "the processor did not crash"

            restarted = WorkerProcess("outreach", settings, log)
            restarted.start()
            try:
                await restarted.wait_ready()
                plan = None
                for _ in range(100):
                    plan = await outreach.read_model.get(seller, "p1")
                    if plan is not None and plan.status != "draft":
                        break
                    await asyncio.sleep(0.2)
                assert plan is not None
                assert (plan.status, plan.reason) == ("scheduled", None)
                usage = await outreach.quota.usage(seller, created.send_at)  # type: ignore[arg-type]
                assert usage.used == 1

                events = await read_until_idle(settings, "crm.plan-events", idle_ms=2000)
                kinds = [decode("crm.plan-events", r.value).event_type for r in events]
                assert kinds == ["PlanCreated", "PlanScheduled"]
                ledger = await read_until_idle(settings, "crm.quota-ledger", idle_ms=1000)
                facts = {decode("crm.quota-ledger", r.value).event_type for r in ledger}
                assert facts == {"QuotaReserved"}
                # A repeated submit now is a forbidden action, not a second unit.
                again = await outreach.send(SubmitPlan, seller, "p1")
                assert again.outcome == "forbidden_action"
                assert (await outreach.quota.usage(seller, created.send_at)).used == 1  # type: ignore[arg-type]
            finally:
                restarted.stop()
    finally:
        crashing.stop()
