"""The plan processor as a `crm worker outreach` process, with commands published to it
and its replies read back; and the one scenario every fault test shares: sellers' submits
handled while a fault strikes, each command answered once, each submit taking one unit."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from demo.sample_status import sample_status
from schemas.plans import CreatePlan, PlanCommandAnswered, SubmitPlan
from services.outreach.handlers import PlanCommand
from services.shared.codec import decode, encode
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.kafka_io import read_until_idle
from tests.integration.outreach.processor_support import command, one_time_draft, outreach_stack


async def publish_commands(settings: Settings, commands: list[PlanCommand]) -> None:
    producer = new_producer(settings)
    await producer.start()
    try:
        topic = settings.topic("crm.plan-commands")
        sent = [await producer.send(topic, encode(c), key=c.seller_id.encode()) for c in commands]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def read_replies(settings: Settings, expected: int) -> list[PlanCommandAnswered]:
    for _ in range(120):
        records = await read_until_idle(settings, "crm.plan-replies", idle_ms=2000)
        replies = [decode("crm.plan-replies", r.value) for r in records]
        if len(replies) >= expected:
            return replies  # type: ignore[return-value]
        await asyncio.sleep(1)
    raise AssertionError(f"{len(replies)} of {expected} commands answered")


async def submits_ride_out(
    settings: Settings, tmp_path: Path, sellers: list[str], fault: Callable[[], Awaitable[None]]
) -> None:
    """Create a plan per seller, then publish their submits and strike `fault` while the
    worker handles them: it keeps running and every command is answered exactly once."""
    worker = WorkerProcess("outreach", settings, tmp_path / "outreach.log")
    draft = one_time_draft(timedelta(hours=3))
    creates = [command(CreatePlan, s, "p1", draft=draft) for s in sellers]
    submits = [command(SubmitPlan, s, "p1") for s in sellers]
    async with outreach_stack(settings, processor=False) as outreach:
        for seller in sellers:
            await outreach.set_status(sample_status(seller, weekly_quota=3))
        worker.start()
        try:
            await worker.wait_ready()
            await publish_commands(settings, creates)
            await read_replies(settings, len(creates))
            await publish_commands(settings, submits)
            await fault()
            replies = await read_replies(settings, len(creates) + len(submits))
            usage = {
                s: (await outreach.quota.usage(s, draft.send_at)).used  # type: ignore[arg-type]
                for s in sellers
            }
            assert worker.process is not None
            assert worker.process.poll() is None  # still running
        finally:
            worker.stop()
    answered = Counter(r.correlation_id for r in replies)
    assert set(answered) == {c.correlation_id for c in creates + submits}
    assert set(answered.values()) == {1}
    assert {r.outcome for r in replies} == {"applied"}
    assert usage == dict.fromkeys(sellers, 1)
