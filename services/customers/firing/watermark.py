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
        if self._applying:
            return self._last
        if not self.ready:
            return None
        marks: list[datetime | None] = []
        try:
            for tp in self.consumer.assignment():
                lso = self.consumer.last_stable_offset(tp)
                end = lso if lso is not None and lso >= 0 else self.consumer.highwater(tp)
                polled = self.consumer.last_poll_timestamp(tp)
                position = await self.consumer.position(tp)
                if self._applying:
                    return self._last
                marks.append(partition_mark(position, end, polled, self._applied_at.get(tp)))
        except IllegalStateError:
            return self._last  # a rebalance moved the partitions under us
        self._last = watermark_of(marks)
        return self._last


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
