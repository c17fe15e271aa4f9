"""Three `crm worker outreach` processes share the plan processor's partitions (a
transactional id per partition, services/shared/transactions.py); one is killed with
SIGKILL between the sellers' creates and submits and a fourth joins. Every command is
answered exactly once, each plan's events are published exactly once, and each submit
takes its quota unit once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from demo.sample_status import sample_status
from schemas.plans import CreatePlan, SubmitPlan
from services.shared.codec import decode
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.kafka_io import read_until_idle
from tests.integration.outreach.processor_support import (
    OUTREACH_TOPICS,
    command,
    one_time_draft,
    outreach_stack,
)
from tests.integration.outreach.submits_under_fault import publish_commands, read_replies

pytestmark = pytest.mark.integration
SELLERS = [f"scale-{n}" for n in range(12)]


async def test_plan_processors_share_partitions_and_survive_a_kill(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*OUTREACH_TOPICS)
    workers = [WorkerProcess("outreach", settings, tmp_path / f"outreach{n}.log") for n in range(4)]
    draft = one_time_draft(timedelta(hours=3))
    creates = [command(CreatePlan, s, "p1", draft=draft) for s in SELLERS]
    submits = [command(SubmitPlan, s, "p1") for s in SELLERS]
    async with outreach_stack(settings, processor=False) as outreach:
        for seller in SELLERS:
            await outreach.set_status(sample_status(seller, weekly_quota=3))
        for worker in workers[:3]:
            worker.start()
        try:
            for worker in workers[:3]:
                await worker.wait_ready()
            await publish_commands(settings, creates)
            await read_replies(settings, len(creates))
            workers[0].kill9()
            workers[3].start()
            await publish_commands(settings, submits)
            await workers[3].wait_ready()
            replies = await read_replies(settings, len(creates) + len(submits))
            usage = {
                s: (await outreach.quota.usage(s, draft.send_at)).used  # type: ignore[arg-type]
                for s in SELLERS
            }
        finally:
            for worker in workers:
                worker.stop()
    answered = Counter(r.correlation_id for r in replies)
    assert set(answered) == {c.correlation_id for c in creates + submits}
    assert set(answered.values()) == {1}
    assert {r.outcome for r in replies} == {"applied"}
    events = await read_until_idle(settings, "crm.plan-events", idle_ms=2000)
    kinds: dict[str, list[str]] = {s: [] for s in SELLERS}
    for record in events:
        event = decode("crm.plan-events", record.value)
        kinds[event.plan.seller_id].append(event.event_type)  # type: ignore[attr-defined]
    assert kinds == {s: ["PlanCreated", "PlanScheduled"] for s in SELLERS}
    assert usage == dict.fromkeys(SELLERS, 1)
    # The work was shared: more than one process answered commands.
    busy = [w for w in workers if b"plans_loaded" in w.log_path.read_bytes()]
    assert len(busy) >= 2
