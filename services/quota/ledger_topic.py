"""crm.quota-ledger: every reservation and release, written before it is answered,
and read back to rebuild the counters."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from services.quota.batched_calls import PerTurn
from services.quota.domain.ledger_facts import LEDGER_EVENTS, LedgerEvent, LedgerFold
from services.shared.codec import encode
from services.shared.replay import Progress, replay
from services.shared.settings import Settings

LEDGER_TOPIC = "crm.quota-ledger"
_SELLERS_CACHED = 100_000
# Two: a write rarely waits a whole round trip behind another, and batches still
# grow with the round trip (measured: no throughput lost against no limit).
_WRITES_IN_FLIGHT = 2


class LedgerWriter:
    """Writes ledger facts, returning once Kafka acknowledged them (acks=all, idempotent).

    Facts go out as explicit per-partition batches (far cheaper per record than
    one send each), placed by the partitioner a send keyed by seller_id uses, so
    a seller's facts stay in one partition and a plan's keep their order. At most
    two writes are in flight and the next carries every fact that arrived
    meanwhile: Kafka's cost is per request, so batches grow with the round trip.
    """

    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self._topic = settings.topic(LEDGER_TOPIC)
        self._producer = producer
        self._partition_of = DefaultPartitioner()
        # murmur2 is pure Python in aiokafka; a seller's partition never changes.
        self._partitions_of_sellers: dict[str, int] = {}
        self._partition_count = 0
        self._writes: PerTurn[Sequence[LedgerEvent], None] = PerTurn(
            self._write, most_in_flight=_WRITES_IN_FLIGHT
        )

    async def publish(self, events: Sequence[LedgerEvent]) -> None:
        if events:
            await self._writes(events)

    async def _write(self, writes: list[Sequence[LedgerEvent]]) -> list[BaseException | None]:
        events = [event for events in writes for event in events]
        partitions = sorted(await self._producer.partitions_for(self._topic))
        if len(partitions) != self._partition_count:  # partitions were added: keys move
            self._partitions_of_sellers.clear()
            self._partition_count = len(partitions)
        filling: dict[int, BatchBuilder] = {}
        sent: list[asyncio.Future[Any]] = []
        for event in events:
            key, value = event.seller_id.encode(), encode(event)
            partition = self._partitions_of_sellers.get(event.seller_id)
            if partition is None:
                partition = self._partition_of(key, partitions, partitions)
                if len(self._partitions_of_sellers) < _SELLERS_CACHED:
                    self._partitions_of_sellers[event.seller_id] = partition
            batch = filling.get(partition)
            if batch is None or batch.append(key=key, value=value, timestamp=None) is None:
                if batch is not None:  # full: send it, start the next
                    sent.append(await self._send(batch, partition))
                batch = filling[partition] = self._producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        for partition, batch in filling.items():
            sent.append(await self._send(batch, partition))
        await asyncio.gather(*sent)
        return [None] * len(writes)

    async def _send(self, batch: BatchBuilder, partition: int) -> asyncio.Future[Any]:
        sent: asyncio.Future[Any] = await self._producer.send_batch(
            batch, self._topic, partition=partition
        )
        return sent


async def read_ledger(settings: Settings, progress: Progress | None = None) -> LedgerFold:
    fold = LedgerFold()
    async for _, event in replay(settings, LEDGER_TOPIC, progress):
        if isinstance(event, LEDGER_EVENTS):
            fold.apply(event)
    return fold
