"""crm.segments → each seller's custom segment definitions in Redis.

Versioned by the record's Kafka offset, as the permissions projection is: a seller's
definitions share one partition (key seller_id), so a higher offset is a later fact.
The API applies its own event right after the broker acknowledges it (read-your-writes);
the customers worker applies every event again later, harmlessly. A deletion stays as a
tombstone, so a redelivered definition never brings a deleted segment back.

    P:{seller}:segments   hash  segment_id → SegmentDefinition JSON,
                                segment_id:offset → the record's offset
"""

from __future__ import annotations

import redis.asyncio as aioredis
from pydantic import AwareDatetime

from schemas.envelope import StrictModel
from schemas.segments import SegmentCondition, SegmentDefined, SegmentDeleted
from services.customers.domain.conditions import Condition

SegmentEvent = SegmentDefined | SegmentDeleted

# KEYS[1] the seller's hash. ARGV: segment_id, definition JSON, offset.
_APPLY_IF_NEWER = """
local stored = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':offset'))
if stored and stored >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], ARGV[1] .. ':offset', ARGV[3])
return 1
"""


class SegmentDefinition(StrictModel):
    """A custom segment as the API and the recompute read it."""

    seller_id: str
    segment_id: str
    name: str
    conditions: tuple[SegmentCondition, ...]
    defined_at: AwareDatetime
    deleted: bool = False

    def domain_conditions(self) -> list[Condition]:
        """The conditions as the customers domain matches them."""
        return [Condition(field=c.field, op=c.op, value=c.value) for c in self.conditions]


def definition_after(event: SegmentEvent, current: SegmentDefinition | None) -> SegmentDefinition:
    if isinstance(event, SegmentDefined):
        return SegmentDefinition(
            seller_id=event.seller_id,
            segment_id=event.segment_id,
            name=event.name,
            conditions=tuple(event.conditions),
            defined_at=event.occurred_at,
        )
    if current is None:
        # A deletion of a definition this store never saw still leaves its tombstone.
        return SegmentDefinition(
            seller_id=event.seller_id,
            segment_id=event.segment_id,
            name=event.segment_id,
            conditions=(),
            defined_at=event.occurred_at,
            deleted=True,
        )
    return current.model_copy(update={"deleted": True})


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class SegmentDefinitions:
    """Works on any redis.asyncio client (decoded responses or bytes)."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._apply_if_newer = redis.register_script(_APPLY_IF_NEWER)

    def key(self, seller_id: str) -> str:
        return f"{self.prefix}:{{{seller_id}}}:segments"

    async def apply(self, event: SegmentEvent, offset: int) -> bool:
        """Record the event unless a later record of that segment is already there."""
        current = await self._stored(event.seller_id, event.segment_id)
        after = definition_after(event, current)
        written = await self._apply_if_newer(
            keys=[self.key(event.seller_id)],
            args=[event.segment_id, after.model_dump_json(), offset],
        )
        return bool(written)

    async def _stored(self, seller_id: str, segment_id: str) -> SegmentDefinition | None:
        raw = await self.redis.hget(self.key(seller_id), segment_id)
        return None if raw is None else SegmentDefinition.model_validate_json(raw)

    async def get(self, seller_id: str, segment_id: str) -> SegmentDefinition | None:
        """The live definition, or None when unknown or deleted."""
        found = await self._stored(seller_id, segment_id)
        return None if found is None or found.deleted else found

    async def known(self, seller_id: str, segment_id: str) -> bool:
        """Whether the id was ever used by this seller (deleted ids are not reused)."""
        return await self._stored(seller_id, segment_id) is not None

    async def live(self, seller_id: str) -> list[SegmentDefinition]:
        """The seller's custom segments, oldest first."""
        raw = await self.redis.hgetall(self.key(seller_id))
        found = [
            SegmentDefinition.model_validate_json(v)
            for k, v in raw.items()
            if not _text(k).endswith(":offset")
        ]
        return sorted(
            (d for d in found if not d.deleted), key=lambda d: (d.defined_at, d.segment_id)
        )
