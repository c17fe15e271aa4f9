"""How far the customers projection has got: an instant before which every record of its
topics is in the store.

The firing engine decides a due moment only once the projection is past it. Otherwise an
order placed before a cart reminder came due, but still in the projection's backlog (a
restart after an outage, a burst), would not cancel the reminder.

Per partition, from what the consumer knows after its last fetch: caught up (position at
the last stable offset) means every record the broker held at that fetch is applied, so
the partition is good up to the fetch's time; behind, it is good up to the timestamp of
the last record applied. The projection's watermark is the least of its partitions'.
Records are applied a batch at a time and the position moves when a batch is handed out,
so while a batch is being applied the previous answer stands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import IllegalStateError

from services.shared.consumer import DeadLetteringConsumer, Record
from services.shared.settings import Settings

# The fetch's time is when its answer arrived; the broker's state it reports is a little
# older (the answer's way back), so a caught-up partition is trusted up to this much less.
FETCH_MARGIN = timedelta(seconds=1)


def partition_mark(
    position: int, end: int | None, polled_ms: int | None, applied_at: datetime | None
) -> datetime | None:
    """Up to when one partition is applied: `end` is its last stable offset (or high
    water mark) at the last fetch, `polled_ms` when that fetch's answer came; None if not
    known yet."""
    if end is None or polled_ms is None:
        return None
    if position >= end:
        return datetime.fromtimestamp(polled_ms / 1000, UTC) - FETCH_MARGIN
    return applied_at


def watermark_of(marks: Iterable[datetime | None]) -> datetime | None:
    """The least of the partitions' marks; None if any is unknown or there are none."""
    listed = list(marks)
    if not listed or any(mark is None for mark in listed):
        return None
    return min(mark for mark in listed if mark is not None)


class WatermarkedConsumer(DeadLetteringConsumer):
    """The projection's consumer, telling the firing engine how far it has applied.

    The listener given to `listen` hears the group's rebalances, a revocation only once
    the batch in flight is applied and committed: the partition's next owner then starts
    from everything this process wrote, and nothing this process applies is written
    after the next owner's look at the store (the firing engine scans the store when it
    takes a partition over)."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        self._rebalances = _AfterTheBatch()
        super().__init__(settings, listener=self._rebalances, **options)
        self._applying = False
        self._applied_at: dict[TopicPartition, datetime] = {}
        self._last: datetime | None = None

    @property
    def applying(self) -> bool:
        """A batch has been handed out and is not yet applied and committed."""
        return self._applying

    def listen(self, listener: ConsumerRebalanceListener) -> None:
        """Before `start`: tell `listener` of the group's rebalances."""
        self._rebalances.listener = listener

    async def process(self, records: Sequence[Record]) -> None:
        self._applying = True
        self._rebalances.idle.clear()
        try:
            await super().process(records)
        finally:
            self._applying = False
            self._rebalances.idle.set()
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
            previous = self._applied_at.get(tp)
            self._applied_at[tp] = at if previous is None else max(previous, at)

    async def watermark(self) -> datetime | None:
        """How far this process has applied its partitions (None: not known yet)."""
        if self._applying:
            return self._last
        if not self.ready:
            return None
        marks = await self._marks()
        if marks is None:
            return self._last
        self._last = watermark_of(marks.values())
        return self._last

    async def marks(self) -> dict[TopicPartition, datetime | None] | None:
        """Each assigned partition's mark; None while a batch is being applied (the
        positions are then ahead of what is applied) or the partitions are moving."""
        if self._applying or not self.ready:
            return None
        return await self._marks()

    async def _marks(self) -> dict[TopicPartition, datetime | None] | None:
        marks: dict[TopicPartition, datetime | None] = {}
        try:
            for tp in self.consumer.assignment():
                lso = self.consumer.last_stable_offset(tp)
                end = lso if lso is not None and lso >= 0 else self.consumer.highwater(tp)
                polled = self.consumer.last_poll_timestamp(tp)
                position = await self.consumer.position(tp)
                if self._applying:
                    return None
                marks[tp] = partition_mark(position, end, polled, self._applied_at.get(tp))
        except IllegalStateError:
            return None  # a rebalance moved the partitions under us
        return marks

    def all_partitions(self) -> list[TopicPartition] | None:
        """Every partition of the consumed topics, whichever process owns it (None: the
        topics' metadata is not known yet)."""
        partitions: list[TopicPartition] = []
        for name in self.topics:
            topic = self.settings.topic(name)
            numbers = self.consumer.partitions_for_topic(topic)
            if not numbers:
                return None
            partitions += [TopicPartition(topic, n) for n in sorted(numbers)]
        return partitions


class SharedWatermark:
    """The whole projection's watermark, when several processes share its partitions: a
    pair's events come from partitions of other processes too (crm.outbound-messages
    and crm.customer-profiles are keyed by customer), so a firing waits for every
    partition, not only this process's. Each process publishes its partitions' marks in
    a Redis hash, and reads the least mark over every partition. A partition whose owner
    changed keeps its previous owner's mark until the new one has its own: what the
    previous owner applied is in the store."""

    def __init__(self, consumer: WatermarkedConsumer, redis: aioredis.Redis, key: str) -> None:
        self.consumer = consumer
        self.redis = redis
        self.key = key

    async def __call__(self) -> datetime | None:
        local = await self.consumer.marks()
        if local:
            published: dict[Any, Any] = {
                _field(tp): str(int(mark.timestamp() * 1000))
                for tp, mark in local.items()
                if mark is not None
            }
            if published:
                await self.redis.hset(self.key, mapping=published)
        partitions = self.consumer.all_partitions()
        if partitions is None:
            return None
        stored = await self.redis.hgetall(self.key)
        by_field = {_text(k): _text(v) for k, v in stored.items()}
        return watermark_of(_mark(by_field.get(_field(tp))) for tp in partitions)


def _field(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _mark(ms: str | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(int(ms) / 1000, UTC)


class _AfterTheBatch(ConsumerRebalanceListener):  # type: ignore[misc]
    """Passes a rebalance on to `listener`, a revocation once no batch is in flight."""

    def __init__(self) -> None:
        self.idle = asyncio.Event()
        self.idle.set()
        self.listener: ConsumerRebalanceListener | None = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.idle.wait()
        if self.listener is not None:
            await self.listener.on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if self.listener is not None:
            await self.listener.on_partitions_assigned(assigned)
