"""Rebuilding the quota projections from the topics: after Redis lost data, or on demand.

The ledger (crm.quota-ledger) gives the counters, the compacted crm.seller-status
the status projection. A seller whose slot kept its generation marker is left as
it is: its Redis state is whole and may be newer than what the rebuild read.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import datetime

import structlog
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from services.quota.domain.counters import campaign_keys_expire_at
from services.quota.domain.ledger_facts import LedgeredWeek
from services.quota.domain.week import keys_expire_at, week_named
from services.quota.ledger_topic import LedgerWriter, read_ledger
from services.quota.metrics import REBUILDS
from services.quota.reconciler import republish_pending
from services.quota.redis_store import RedisQuotaStore
from services.quota.status_projection import read_statuses
from services.shared.clock import Clock
from services.shared.replay import Progress
from services.shared.settings import Settings

log = structlog.get_logger(__name__)

# The lock outlives a crashed rebuilder by this much at most; a live one renews it.
LOCK_SECONDS = 60.0
_SELLERS_PER_PIPELINE = 500


@dataclass(frozen=True)
class RebuildReport:
    generation: str
    trigger: str
    rebuilt_at: str
    sellers: int
    statuses: int
    ledger_facts: int
    duplicates: int
    republished: int
    seconds: float


class Rebuilder:
    def __init__(
        self,
        settings: Settings,
        store: RedisQuotaStore,
        ledger: LedgerWriter,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._store = store
        self._ledger = ledger
        self._clock = clock
        # One rebuild attempt per process at a time; the Redis lock orders processes.
        self._in_process = asyncio.Lock()

    async def ensure_restored(self, seller_id: str) -> None:
        """Return once the seller's slot is restored, rebuilding it if nobody else has."""
        async with self._in_process:
            if await self._store.is_restored(seller_id):
                return
            async with self._locked():
                if not await self._store.is_restored(seller_id):
                    await self._rebuild("data_lost")

    async def rebuild_if_lost(self, progress: Progress | None = None) -> RebuildReport | None:
        """A rebuild when any slot lost its marker: Redis (or one of its nodes) lost data."""
        if not await self._store.slots_lost():
            return None
        async with self._in_process, self._locked():
            if not await self._store.slots_lost():
                return None
            return await self._rebuild("data_lost", progress)

    async def rebuild(self, progress: Progress | None = None) -> RebuildReport:
        """Rebuild every seller from the topics (`crm replay`). Reservations wait meanwhile:
        with the markers dropped, the scripts answer "needs rebuild" until it is done."""
        async with self._in_process, self._locked():
            await self._store.drop_markers()
            return await self._rebuild("on_demand", progress)

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        lock = self._store.rebuild_lock(LOCK_SECONDS)
        await lock.acquire()
        renewing = asyncio.create_task(_keep(lock))
        try:
            yield
        finally:
            renewing.cancel()
            with suppress(LockError):
                await lock.release()

    async def _rebuild(self, trigger: str, progress: Progress | None = None) -> RebuildReport:
        started = time.monotonic()
        now = self._clock()
        generation = uuid.uuid4().hex
        await self._store.begin_restoring(generation)
        # Facts a dead process left unpublished go to the ledger first, so the
        # replay below sees every unit Redis ever handed out.
        republished = await republish_pending(self._store, self._ledger, now)
        statuses = await read_statuses(self._settings, progress)
        fold = await read_ledger(self._settings, progress)
        sellers = sorted(set(statuses) | fold.sellers)
        for start in range(0, len(sellers), _SELLERS_PER_PIPELINE):
            pipe = self._store.redis.pipeline(transaction=False)
            for seller_id in sellers[start : start + _SELLERS_PER_PIPELINE]:
                status = statuses.get(seller_id)
                if status is not None:
                    await self._store.put_status(*status, client=pipe)
                market = status[0].market if status else None
                weeks = [
                    (week.label, week.usage, expire_at)
                    for week in fold.weeks_of(seller_id)
                    if (expire_at := _expiry(week, market)) > now
                ]
                await self._store.restore(seller_id, weeks, client=pipe)
            await pipe.execute()
            if progress:
                progress("restore", min(start + _SELLERS_PER_PIPELINE, len(sellers)), len(sellers))
        await self._store.finish_restoring(generation)
        report = RebuildReport(
            generation=generation,
            trigger=trigger,
            rebuilt_at=now.isoformat(),
            sellers=len(sellers),
            statuses=len(statuses),
            ledger_facts=fold.facts,
            duplicates=fold.duplicates,
            republished=republished,
            seconds=round(time.monotonic() - started, 3),
        )
        await self._store.record_rebuild(asdict(report))
        REBUILDS.labels(trigger).inc()
        log.info("quota_rebuilt", **asdict(report))
        return report


def _expiry(week: LedgeredWeek, market: str | None) -> datetime:
    if week.campaign_ends_at is not None:
        return campaign_keys_expire_at(week.campaign_ends_at, week.last_fact_at)
    return keys_expire_at(week_named(week.label, market), week.last_fact_at)


async def _keep(lock: Lock) -> None:
    while True:
        await asyncio.sleep(LOCK_SECONDS / 3)
        await lock.reacquire()
