"""Readiness checks shared by every service."""

from __future__ import annotations

import redis.asyncio as aioredis

from services.shared.kafka import admin_client
from services.shared.ops import Check
from services.shared.settings import Settings


def kafka_check(settings: Settings) -> Check:
    async def check() -> bool:
        async with admin_client(settings) as client:
            await client.list_topics()
        return True

    return check


def redis_check(settings: Settings) -> Check:
    async def check() -> bool:
        client = aioredis.from_url(settings.redis_url)
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    return check
