"""Redis stops answering for longer than the clients wait (CLIENT PAUSE beyond redis-py's
5 s socket timeout) while the plan processor handles submits: `crm worker outreach`
keeps running, redoes the batch from what committed, and every command is answered
exactly once, each submit taking its quota unit once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.shared.settings import Settings
from tests.integration.outreach.processor_support import OUTREACH_TOPICS
from tests.integration.outreach.submits_under_fault import submits_ride_out

pytestmark = pytest.mark.integration


async def test_a_redis_stall_while_submitting_is_ridden_out(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*OUTREACH_TOPICS)

    async def pause_redis() -> None:
        admin = aioredis.Redis.from_url(redis_url)
        try:
            await admin.execute_command("CLIENT", "PAUSE", "6500", "ALL")
        finally:
            await admin.aclose(close_connection_pool=True)

    await submits_ride_out(settings, tmp_path, [f"stall-{n}" for n in range(6)], pause_redis)
