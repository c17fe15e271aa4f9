"""De-duplication on event_id (SPEC section 6), per consumer group.

The first record with an event_id wins. A later one with the same id is either an exact
redelivery (same content: a silent no-op) or a conflicting duplicate (other content:
dead-lettered). "Content" is the event as the schema reads it (its canonical JSON), so a
producer re-serialising the same event with its fields in another order repeats it.

Memory is bounded: one Redis string per applied event, `<group>:seen:<event_id>` → a
16-hex-digit digest of its content, expiring after the window (a day by default). A
duplicate arriving later than that is applied again: upstream redeliveries come within
minutes, and every fold is idempotent on its own keys (order_id, message_id) anyway.

Ids are remembered only after the batch that applied them is written, and before its
offsets are committed: a crash in between redelivers a batch whose ids are remembered,
which is then a no-op, exactly as its effects already written make it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import redis.asyncio as aioredis

from schemas.envelope import Event


class Seen(Enum):
    NEW = "new"
    REPEAT = "repeat"
    CONFLICT = "conflict"


def digest(event: Event) -> str:
    return hashlib.blake2b(canonical(event), digest_size=8).hexdigest()


def canonical(event: Event) -> bytes:
    """The event's canonical JSON, the bytes `encode` gives, straight from the
    serializer (no detour through str)."""
    return event.__pydantic_serializer__.to_json(event)


def conflict_reason(event: Event) -> str:
    return (
        f"event_id: {event.event_id} was already applied with other content "
        "(a conflicting duplicate; the first record with an event_id wins)"
    )


@dataclass
class SeenEvents:
    redis: aioredis.Redis
    namespace: str
    window_seconds: int

    def _key(self, event: Event) -> str:
        return f"{self.namespace}:seen:{event.event_id}"

    async def sift(self, events: Sequence[Event]) -> list[Seen]:
        """Each event's verdict against what was remembered and what came before it in
        `events` itself."""
        if not events:
            return []
        stored = await self.redis.mget([self._key(e) for e in events])
        earlier: dict[str, str] = {}
        verdicts: list[Seen] = []
        for event, known in zip(events, stored, strict=True):
            mine = digest(event)
            first = _text(known) if known is not None else earlier.get(str(event.event_id))
            if first is None:
                earlier[str(event.event_id)] = mine
                verdicts.append(Seen.NEW)
            else:
                verdicts.append(Seen.REPEAT if first == mine else Seen.CONFLICT)
        return verdicts

    async def remember(self, events: Sequence[Event]) -> None:
        if not events:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.set(self._key(event), digest(event), ex=self.window_seconds, nx=True)
            await pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RecentEvents:
    """The same verdicts from memory, for a faust agent (no Redis there): the last
    `size` event_ids it handed on, per stream. Lost on a restart, where the folds'
    own idempotence (per seller and date, per message) is what holds."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        # event_id → Python's hash of the canonical JSON: a per-process digest is
        # enough for a window that lives in this process, and half the cost of blake2b.
        self._seen: OrderedDict[int, int] = OrderedDict()

    def sift(self, event: Event) -> Seen:
        """NEW events are remembered at once: the first record of an id wins."""
        key, mine = event.event_id.int, hash(canonical(event))
        first = self._seen.get(key)
        if first is not None:
            return Seen.REPEAT if first == mine else Seen.CONFLICT
        self._seen[key] = mine
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return Seen.NEW
