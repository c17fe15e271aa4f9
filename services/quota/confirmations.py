"""Clearing the pending marks of ledger facts once Kafka acknowledged them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID

import structlog
from redis.exceptions import RedisError

from services.quota.domain.ledger_facts import LedgerEvent
from services.quota.redis_store import RedisQuotaStore
from services.shared.clock import Clock

log = structlog.get_logger(__name__)

_FACTS_PER_CALL = 1000


class Confirmations:
    """Clears the pending marks of facts the ledger acknowledged, a batch at a time.

    Answers do not wait for this: a mark left behind (a crash, Redis briefly
    away) only makes the reconciler publish the fact again, which readers of
    the ledger drop as a duplicate event_id.
    """

    # Long enough that one call confirms many facts of a busy seller, short enough
    # that few marks outlive a crash.
    def __init__(self, store: RedisQuotaStore, clock: Clock, delay: float = 0.2) -> None:
        self._store = store
        self._clock = clock
        self._delay = delay
        # (seller, slot generation when taken) -> (market, facts)
        self._queued: dict[tuple[str, str], tuple[str | None, list[LedgerEvent]]] = {}
        self._unconfirmed: set[UUID] = set()
        self._flushing: asyncio.Task[None] | None = None

    def holds(self, event: LedgerEvent) -> bool:
        return event.event_id in self._unconfirmed

    def add(
        self,
        seller_id: str,
        market: str | None,
        generation: str,
        events: Sequence[LedgerEvent],
    ) -> None:
        if not events:
            return
        self._queued.setdefault((seller_id, generation), (market, []))[1].extend(events)
        self._unconfirmed.update(e.event_id for e in events)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_soon())

    async def close(self) -> None:
        self._delay = 0.0
        if self._flushing is not None:
            await self._flushing
        await self._flush_queued()

    async def _flush_soon(self) -> None:
        # Wait before each batch, also while facts keep arriving: a flush right after
        # the last would confirm a few facts per seller per call.
        while self._queued:
            await asyncio.sleep(self._delay)
            await self._flush_queued()

    async def _flush_queued(self) -> None:
        batch, self._queued = self._queued, {}
        if not batch:
            return
        try:
            await self._confirm(batch)
        except RedisError as exc:
            log.warning("confirm_failed", sellers=len(batch), error=str(exc))
        finally:
            self._unconfirmed.difference_update(
                e.event_id for _, events in batch.values() for e in events
            )

    async def _confirm(
        self, batch: dict[tuple[str, str], tuple[str | None, list[LedgerEvent]]]
    ) -> None:
        # Chunks: a script unpacks its arguments onto Lua's stack, which has a limit.
        calls = [
            (key, events[start : start + _FACTS_PER_CALL])
            for key, (_, events) in batch.items()
            for start in range(0, len(events), _FACTS_PER_CALL)
        ]
        pipe = self._store.redis.pipeline(transaction=False)
        for (seller_id, generation), chunk in calls:
            await self._store.confirm(seller_id, generation, chunk, client=pipe)
        confirmed = await pipe.execute()
        rebuilt_since = {key for (key, _), done in zip(calls, confirmed, strict=True) if not done}
        if not rebuilt_since:
            return
        pipe = self._store.redis.pipeline(transaction=False)
        for seller_id, generation in rebuilt_since:
            market, events = batch[(seller_id, generation)]
            await self._store.heal(seller_id, market, events, self._clock(), client=pipe)
        await pipe.execute()
