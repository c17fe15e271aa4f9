"""`crm worker outreach` as a process: besides the plan processor it keeps the
permission and appeal projections the API reads."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from schemas.seller import AppealDecided, AppealSubmitted, PermissionGranted
from services.outreach.appeals import appeal_store
from services.outreach.permissions import permission_store
from services.shared.codec import encode
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.outreach.processor_support import OUTREACH_TOPICS
from tests.integration.outreach.support import eventually


async def test_the_worker_projects_permissions_and_appeals_published_by_others(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*OUTREACH_TOPICS)
    worker = WorkerProcess("outreach", settings, tmp_path / "outreach.log")
    worker.start()
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    producer = new_producer(settings)
    await producer.start()
    try:
        await worker.wait_ready()
        now = datetime.now(UTC)
        envelope = {"occurred_at": now}
        events = [
            PermissionGranted(
                event_id=uuid.uuid4(),
                seller_id="s1",
                account_id="helper",
                permission="customers",
                **envelope,
            ),
            AppealSubmitted(
                event_id=uuid.uuid4(),
                appeal_id="a1",
                seller_id="s1",
                account_id="s1",
                text="please",
                **envelope,
            ),
            AppealDecided(
                event_id=uuid.uuid4(),
                appeal_id="a1",
                seller_id="s1",
                approved=True,
                decided_by="ops",
                note="ok",
                **envelope,
            ),
        ]
        for event in events:
            topic = "crm.seller-accounts" if isinstance(event, PermissionGranted) else "crm.appeals"
            await producer.send_and_wait(settings.topic(topic), encode(event), key=b"s1")

        permissions = permission_store(settings, redis)
        appeals = appeal_store(settings, redis)
        assert await eventually(lambda: permissions.holds("s1", "helper", "customers"))

        async def decided() -> bool:
            return any(a.status == "approved" for a in await appeals.appeals("s1"))

        assert await eventually(decided)
    finally:
        await producer.stop()
        await redis.aclose()
        assert worker.stop() == 0
