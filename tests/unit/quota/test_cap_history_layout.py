"""The cap history's marker names its layout: a Redis written by the per-customer layout
has no marker of the by-period one, so the first start refolds into the new keys with no
operator step (an upgrade heals like a loss)."""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio as aioredis

from services.quota.cap_history import cap_history_guard
from services.quota.keys import quota_keys
from services.quota.redis_store import RedisQuotaStore
from services.shared.projection_guard import ProjectionGuard
from services.shared.settings import Settings


async def _nothing(_chunk: object) -> None:
    return None


def test_the_cap_history_marker_is_not_the_old_layouts() -> None:
    settings = Settings(topic_prefix="t.")
    redis = aioredis.Redis.from_url("redis://localhost:1/0")  # never connected
    store = RedisQuotaStore(redis, quota_keys(settings))
    guard = cap_history_guard(settings, store, lambda: datetime(2024, 6, 2, tzinfo=UTC))
    old = ProjectionGuard(settings, redis, "frequency-cap", topics=(), fold=_nothing)
    assert old.marker_key == "t.projection:{frequency-cap}:generation"
    assert guard.marker_key == "t.projection:{frequency-cap}:v2:generation"
    # Same name, same lock: the old and new layouts are never refolded side by side.
    assert guard.lock_key == old.lock_key
