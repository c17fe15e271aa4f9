"""The plan read model in Redis: what GET /v1/plans serves.

One hash per plan ({version, plan, deleted}) and one sorted set per seller (plan ids by
creation time), both hash-tagged by seller so one script touches one cluster slot. A
write only lands when its version is newer, so the processor, the API (applying the
answer it just got) and a resync can all write in any order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import redis.asyncio as aioredis

from schemas.outbound import PlanType
from schemas.plans import Plan, PlanStatus
from services.shared.settings import Settings

_UPSERT = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'plan', ARGV[2], 'deleted', ARGV[3])
if ARGV[3] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[4])
else
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
end
return 1
"""


class PlanReadModel:
    """Over a client made with decode_responses=True."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self._prefix = f"{prefix}outreach"
        self._upsert = redis.register_script(_UPSERT)

    def _plan_key(self, seller_id: str, plan_id: str) -> str:
        return f"{self._prefix}:plan:{{{seller_id}}}:{plan_id}"

    def _index_key(self, seller_id: str) -> str:
        return f"{self._prefix}:plans:{{{seller_id}}}"

    @property
    def marker_key(self) -> str:
        """Present while the read model holds everything the processor committed."""
        return f"{self._prefix}:plans-complete"

    def _upsert_call(self, plan: Plan, deleted: bool) -> tuple[list[str], list[Any]]:
        return (
            [self._plan_key(plan.seller_id, plan.plan_id), self._index_key(plan.seller_id)],
            [
                plan.version,
                plan.model_dump_json(),
                "1" if deleted else "0",
                plan.plan_id,
                plan.created_at.timestamp(),
            ],
        )

    async def put(self, plan: Plan, *, deleted: bool = False) -> bool:
        keys, args = self._upsert_call(plan, deleted)
        return bool(await self._upsert(keys=keys, args=args))

    async def put_many(self, plans: Iterable[tuple[Plan, bool]]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for plan, deleted in plans:
                keys, args = self._upsert_call(plan, deleted)
                await self._upsert(keys=keys, args=args, client=pipe)
            await pipe.execute()

    async def get(self, seller_id: str, plan_id: str) -> Plan | None:
        raw, deleted = await self.redis.hmget(self._plan_key(seller_id, plan_id), "plan", "deleted")
        if raw is None or deleted == "1":
            return None
        return Plan.model_validate_json(raw)

    async def page(
        self,
        seller_id: str,
        *,
        limit: int,
        after: tuple[float, str] | None = None,
        type: PlanType | None = None,
        status: PlanStatus | None = None,
    ) -> tuple[list[Plan], tuple[float, str] | None]:
        """Up to `limit` of the seller's plans, newest first (by creation, then id
        descending), after the plan whose (created score, id) is `after`; with the key
        to start the next page after, or None when no plan is left."""
        index = self._index_key(seller_id)
        top = "+inf" if after is None else repr(after[0])
        chunk = max(2 * limit, 100)
        found: list[tuple[Plan, tuple[float, str]]] = []
        offset = 0
        while True:
            rows = cast(
                list[tuple[str, float]],
                await self.redis.zrevrangebyscore(
                    index, top, "-inf", start=offset, num=chunk, withscores=True
                ),
            )
            offset += len(rows)
            keys = [(float(score), str(plan_id)) for plan_id, score in rows]
            keys = [k for k in keys if after is None or k < after]
            async with self.redis.pipeline(transaction=False) as pipe:
                for _, plan_id in keys:
                    pipe.hget(self._plan_key(seller_id, plan_id), "plan")
                raws = await pipe.execute() if keys else []
            for key, raw in zip(keys, raws, strict=True):
                if raw is None:
                    continue
                plan = Plan.model_validate_json(raw)
                if (type is None or plan.type == type) and (
                    status is None or plan.status == status
                ):
                    found.append((plan, key))
                if len(found) > limit:
                    return [p for p, _ in found[:limit]], found[limit - 1][1]
            if len(rows) < chunk:
                return [p for p, _ in found], None

    async def is_complete(self) -> bool:
        return bool(await self.redis.exists(self.marker_key))

    async def mark_complete(self) -> None:
        await self.redis.set(self.marker_key, "1")


def plan_read_model(redis: aioredis.Redis, settings: Settings) -> PlanReadModel:
    return PlanReadModel(redis, settings.topic_prefix)
