"""A Redis projection that notices it lost its data and refolds itself from its topics.

SPEC section 1: Redis holds projections that can always be rebuilt from the topics. Redis
loses data by FLUSHALL, a failover to an empty replica, a restart without persistence;
the consumer groups' offsets stay committed in Kafka, so nothing would be read again.

Each projection keeps a generation marker, `<prefix>projection:{<name>}:generation`,
set once the projection is whole. It is written last by a rebuild and never expires, so
it is gone exactly when the keys it vouches for may be gone (Redis must not evict
it: `maxmemory-policy noeviction` or a `volatile-*` policy, see the README). A guard:

- `ensure()`: the marker is there → the generation; missing → one process (a Redis lock)
  rebuilds: every topic from its beginning up to the consumer group's committed offsets
  (read_committed; no group: the end offsets), folded by the projection's own fold,
  then `after` (the customers' segment recompute), then a new marker. The live consumer
  calls it before writing each batch, so the batch it holds (past the committed
  offsets) is written after the refold, in log order;
- `wait_whole()`: for a reader that does not own the projection: waits for the marker;
- `watch()`: a projection whose topics are quiet still notices the loss (every second).

A large topic may be refolded by several processes (`Split`, refold_split.py): the
customers' crm.customer-activity and the memberships after it.

Redis Cluster: a node loses the slots it holds, not the whole keyspace. The cluster
variant keeps one marker per slot, as quota does (services/quota/keys.py: a hash tag
per slot), and `ensure(seller)` checks the slot of the seller's keys; the refold is the
same. Until then one marker per projection, on one node, suits a single Redis or a
cluster that fails over whole.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis
import structlog
from prometheus_client import Counter, Gauge, Histogram
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from schemas.envelope import Event
from services.shared.consumer import DeadLetteringConsumer, Record
from services.shared.kafka import admin_client
from services.shared.refold_split import PROCESSES, Shares, Work
from services.shared.replay import Progress, records_to_read, replay_batches
from services.shared.settings import Settings

log = structlog.get_logger(__name__)

Fold = Callable[[list[tuple[int, Event]]], Awaitable[None]]
After = Callable[[], Awaitable[None]]
# Events folded per write: a refold's batches are larger than a live consumer's.
CHUNK = 20_000
LOCK_SECONDS = 60.0
POLL_SECONDS = 0.2

REBUILDING = Gauge(
    "crm_projection_rebuilding",
    "1 while this process rebuilds the projection from its topics (Redis lost it).",
    ["projection"],
)
REBUILDS = Counter(
    "crm_projection_rebuilds_total",
    "Projection rebuilds from the topics, by why (data_lost, on_demand).",
    ["projection", "trigger"],
)
REBUILD_SECONDS = Histogram(
    "crm_projection_rebuild_seconds",
    "How long a projection rebuild took.",
    ["projection"],
    buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300),
)


class ProjectionLost(RedisError):
    """A projection lost its data while it was being read: whatever was decided from the
    read is undone (a RedisError: the loops redo the batch from committed offsets)."""


@dataclass
class RebuildStatus:
    projection: str
    topic: str = ""
    read: int = 0
    total: int = 0
    started: float = 0.0
    folded_seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "read": self.read,
            "total": self.total,
            "seconds": round(time.monotonic() - self.started, 1),
        }


@dataclass(frozen=True)
class Split:
    """The part of a refold shared by processes (services/shared/refold_split.py), once
    `topic` holds at least `least` records to read (starting processes costs seconds):

    - `refold(share, settings, topic, until)` folds the share's records of `topic` up to
      `until` (partition → offset; None: the end) and returns how many it folded;
    - `after(share, settings, now)`, if given, stands for the guard's `after`, each
      process doing its share as of the parent's `now`.

    Both are module-level coroutine functions (a spawned process imports them). `topic`
    must be keyed by what its fold writes: one process writes each key's state."""

    topic: str
    refold: Work
    clock: Callable[[], datetime]
    after: Work | None = None
    least: int = 200_000
    processes: int = PROCESSES


# This process's rebuilds under way, for /readyz (services/shared/ops.py).
_REBUILDING: dict[str, RebuildStatus] = {}


def rebuilding_now() -> dict[str, dict[str, object]]:
    return {name: status.as_dict() for name, status in _REBUILDING.items()}


async def committed_offsets(
    settings: Settings, group_id: str, topics: Sequence[str]
) -> dict[str, dict[int, int]]:
    """Per registry topic, partition → the group's committed offset (none: not read yet)."""
    async with admin_client(settings) as client:
        offsets = await client.list_consumer_group_offsets(group_id)
    physical = {settings.topic(t): t for t in topics}
    found: dict[str, dict[int, int]] = {t: {} for t in topics}
    for tp, meta in offsets.items():
        if tp.topic in physical and meta.offset >= 0:
            found[physical[tp.topic]][tp.partition] = meta.offset
    return found


class ProjectionGuard:
    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        name: str,
        *,
        topics: Sequence[str],
        fold: Fold,
        group_id: str | None = None,
        after: After | None = None,
        needs: Sequence[ProjectionGuard] = (),
        since: Callable[[], datetime] | None = None,
        split: Split | None = None,
        layout: int = 1,
    ) -> None:
        """`needs`: projections the fold reads (performance reads the customers'
        markets), waited for before the refold starts. `since`: the refold starts at
        the records of that time instead of the beginning (a history that keeps only
        a window, such as the frequency cap's). `split`: a large topic refolded by
        several processes (the customers' 1,000,000 relationships). `layout`: raised
        when the projection's keys change shape; a Redis holding the old shape has no
        marker of the new one, so the first start refolds into the new keys by itself."""
        self.settings = settings
        self.redis = redis
        self.name = name
        self.topics = tuple(topics)
        self.fold = fold
        self.group_id = group_id
        self.after = after
        self.needs = tuple(needs)
        self.since = since
        self.split = split
        tag = f"{settings.topic_prefix}projection:{{{name}}}"
        self.marker_key = f"{tag}:generation" if layout == 1 else f"{tag}:v{layout}:generation"
        self.lock_key = f"{tag}:rebuild-lock"
        self._in_process = asyncio.Lock()
        self.last_rebuild_seconds: float | None = None
        self.last_refold_seconds: float | None = None
        self.last_folded = 0

    async def generation(self) -> str | None:
        raw = await self.redis.get(self.marker_key)
        return raw.decode() if isinstance(raw, bytes) else raw

    @property
    def rebuilding(self) -> bool:
        return self.name in _REBUILDING

    async def ensure(self) -> str:
        """The projection's generation, once it is whole (rebuilding it if it was lost)."""
        found = await self.generation()
        if found is not None:
            return found
        async with self._in_process, self._locked():
            found = await self.generation()
            if found is not None:
                return found  # another process rebuilt it meanwhile
            return await self._rebuild("data_lost")

    async def rebuild(self, progress: Progress | None = None, settle: float = 1.0) -> int:
        """Refold on demand (`crm replay`), beside live workers: with the marker dropped
        their next batch waits for the new one; `settle` lets a batch being written
        finish first. Reads to the end offsets (the live consumer re-applies what lies
        past its committed offsets: folds are idempotent). Returns the events folded."""
        async with self._in_process, self._locked():
            await self.redis.delete(self.marker_key)
            await asyncio.sleep(settle)
            await self._rebuild("on_demand", progress, to_end=True)
            return self.last_folded

    async def wait_whole(self, stopping: asyncio.Event | None = None) -> str | None:
        """The generation once the owner has the projection whole; None if stopped first."""
        while True:
            found = await self.generation()
            if found is not None or (stopping is not None and stopping.is_set()):
                return found
            await asyncio.sleep(POLL_SECONDS)

    async def watch(self, stopping: asyncio.Event, every: float = 1.0) -> None:
        """Notice a loss while the topics are quiet. A check or a rebuild that failed
        (Redis or Kafka away) is tried again next time: the marker is set only by a
        rebuild that finished."""
        while not stopping.is_set():
            try:
                await self.ensure()
            except Exception as exc:  # any failure is retried, never fatal
                log.warning("projection_check_failed", projection=self.name, error=repr(exc))
            with suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), every)

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        lock = self.redis.lock(self.lock_key, timeout=LOCK_SECONDS)
        await lock.acquire()
        renewing = asyncio.create_task(_keep(lock))
        try:
            yield
        finally:
            renewing.cancel()
            with suppress(LockError):
                await lock.release()

    async def _rebuild(
        self, trigger: str, progress: Progress | None = None, *, to_end: bool = False
    ) -> str:
        status = RebuildStatus(self.name, started=time.monotonic())
        _REBUILDING[self.name] = status
        REBUILDING.labels(self.name).set(1)
        log.warning("projection_rebuilding", projection=self.name, trigger=trigger)
        try:
            for needed in self.needs:
                await needed.wait_whole()
            until = (
                await committed_offsets(self.settings, self.group_id, self.topics)
                if self.group_id and not to_end
                else None
            )
            shares = await self._shares(until)
            finished = False
            try:
                folded = 0
                for topic in self.topics:
                    limit = None if until is None else until[topic]
                    if shares is not None and self.split is not None and topic == self.split.topic:
                        folded += await self._refold_shared(shares, topic, limit, status, progress)
                    else:
                        folded += await self._refold(topic, limit, status, progress)
                status.folded_seconds = time.monotonic() - status.started
                if self.after is not None:
                    status.topic = "after"
                    if shares is not None and self.split is not None and self.split.after:
                        now = self.split.clock()
                        await shares.run(self.split.after, self.settings, now)
                    else:
                        await self.after()
                finished = True
            finally:
                if shares is not None:
                    shares.close(finished=finished)
            generation = uuid.uuid4().hex
            await self.redis.set(self.marker_key, generation)
        finally:
            _REBUILDING.pop(self.name, None)
            REBUILDING.labels(self.name).set(0)
        seconds = time.monotonic() - status.started
        self.last_rebuild_seconds = seconds
        self.last_refold_seconds = status.folded_seconds
        self.last_folded = folded
        REBUILDS.labels(self.name, trigger).inc()
        REBUILD_SECONDS.labels(self.name).observe(seconds)
        log.warning(
            "projection_rebuilt",
            projection=self.name,
            trigger=trigger,
            events=folded,
            seconds=round(seconds, 3),
            refold_seconds=round(status.folded_seconds, 3),
        )
        return generation

    async def _shares(self, until: Mapping[str, Mapping[int, int]] | None) -> Shares | None:
        """Processes for the split topic, if it is large enough to be worth them."""
        if self.split is None or self.split.processes < 2:
            return None
        limit = None if until is None else until[self.split.topic]
        if await records_to_read(self.settings, self.split.topic, limit) < self.split.least:
            return None
        try:
            return Shares(self.split.processes)
        except OSError as exc:  # no processes to be had: one process refolds it all
            log.warning("projection_refold_unshared", projection=self.name, error=repr(exc))
            return None

    async def _refold(
        self,
        topic: str,
        until: Mapping[int, int] | None,
        status: RebuildStatus,
        report: Progress | None,
    ) -> int:
        began = time.monotonic()
        since_ms = None if self.since is None else int(self.since().timestamp() * 1000)
        folded = await refold_topic(
            self.settings,
            topic,
            self.fold,
            until=until,
            since_ms=since_ms,
            progress=_reporting(status, report, topic),
        )
        log.info(
            "projection_topic_refolded",
            projection=self.name,
            topic=topic,
            events=folded,
            seconds=round(time.monotonic() - began, 3),
        )
        return folded

    async def _refold_shared(
        self,
        shares: Shares,
        topic: str,
        until: Mapping[int, int] | None,
        status: RebuildStatus,
        report: Progress | None,
    ) -> int:
        assert self.split is not None
        began = time.monotonic()
        total = await records_to_read(self.settings, topic, until)
        progress = _reporting(status, report, topic)

        def read_so_far(read: int) -> None:
            progress(topic, read, total)

        progress(topic, 0, total)
        counts = await shares.run(
            self.split.refold, self.settings, topic, until, progress=read_so_far
        )
        folded = sum(int(count) for count in counts)
        log.info(
            "projection_topic_refolded",
            projection=self.name,
            topic=topic,
            events=folded,
            processes=shares.count,
            seconds=round(time.monotonic() - began, 3),
        )
        return folded


def _reporting(status: RebuildStatus, report: Progress | None, topic: str) -> Progress:
    status.topic, status.read, status.total = topic, 0, 0

    def progress(name: str, read: int, total: int) -> None:
        status.topic, status.read, status.total = name, read, total
        if report is not None:
            report(name, read, total)

    return progress


async def refold_topic(
    settings: Settings,
    topic: str,
    fold: Fold,
    *,
    until: Mapping[int, int] | None = None,
    since_ms: int | None = None,
    owns: Callable[[bytes | None], bool] | None = None,
    progress: Progress | None = None,
) -> int:
    """Fold the topic's valid records (replay_batches) in chunks of CHUNK; the events folded."""
    folded = 0
    chunk: list[tuple[int, Event]] = []
    async for batch in replay_batches(
        settings, topic, progress, until=until, since_ms=since_ms, owns=owns
    ):
        chunk += [(record.offset, event) for record, event in batch]
        if len(chunk) >= CHUNK:
            await fold(chunk)
            folded, chunk = folded + len(chunk), []
    if chunk:
        await fold(chunk)
    return folded + len(chunk)


def guarded(consumer: DeadLetteringConsumer, guard: ProjectionGuard) -> DeadLetteringConsumer:
    """The consumer writes only to a whole projection: the guard is ensured before each
    batch's flush, or, for a consumer that writes in its handler, before each event
    (one GET: such topics are quiet)."""
    if consumer.flush is not None:
        flush = consumer.flush

        async def guarded_flush() -> None:
            await guard.ensure()
            await flush()

        consumer.flush = guarded_flush
    else:
        handler = consumer.handler

        async def guarded_handler(event: Event, record: Record) -> None:
            await guard.ensure()
            await handler(event, record)

        consumer.handler = guarded_handler
    return consumer


class ProjectionGate:
    """What a reader needs whole before it acts: the projections it owns are ensured
    (rebuilt here if lost), the others waited for. `whole()` before reading, `unchanged()`
    before committing what was decided from the reads."""

    def __init__(
        self, owned: Sequence[ProjectionGuard] = (), awaited: Sequence[ProjectionGuard] = ()
    ) -> None:
        self.owned = list(owned)
        self.awaited = list(awaited)

    async def whole(self) -> tuple[str | None, ...]:
        generations: list[str | None] = [await g.ensure() for g in self.owned]
        generations += [await g.wait_whole() for g in self.awaited]
        return tuple(generations)

    async def unchanged(self, generations: tuple[str | None, ...]) -> None:
        guards = [*self.owned, *self.awaited]
        pipe = guards[0].redis.pipeline(transaction=False) if guards else None
        if pipe is None:
            return
        for guard in guards:
            pipe.get(guard.marker_key)
        now = tuple(g.decode() if isinstance(g, bytes) else g for g in await pipe.execute())
        if now != generations:
            lost = [g.name for g, a, b in zip(guards, generations, now, strict=True) if a != b]
            raise ProjectionLost(f"projection(s) lost while read: {', '.join(lost)}")


async def _keep(lock: Lock) -> None:
    while True:
        await asyncio.sleep(LOCK_SECONDS / 3)
        await lock.reacquire()
