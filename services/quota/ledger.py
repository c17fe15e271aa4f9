"""crm.quota-ledger: every reservation and release, written before it is answered,
and read back to rebuild the counters."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from schemas.quota import QuotaReleased, QuotaReserved
from services.quota.domain.ledger import LedgerEvent, LedgerFold
from services.quota.replay import Progress, replay
from services.shared.codec import encode
from services.shared.settings import Settings

LEDGER_TOPIC = "crm.quota-ledger"


class LedgerWriter:
    """Writes ledger facts, returning once Kafka acknowledged them (acks=all, idempotent).

    Facts go out as explicit per-partition batches (far cheaper per record than
    one send each), placed by the partitioner a send keyed by seller_id uses, so
    a seller's facts stay in one partition and a plan's keep their order.
    """

    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self._topic = settings.topic(LEDGER_TOPIC)
        self._producer = producer
        self._partition_of = DefaultPartitioner()

    async def publish(self, events: Sequence[LedgerEvent]) -> None:
        if not events:
            return
        partitions = sorted(await self._producer.partitions_for(self._topic))
        filling: dict[int, BatchBuilder] = {}
        sent: list[asyncio.Future[Any]] = []
        for event in events:
            key, value = event.seller_id.encode(), encode(event)
            partition = self._partition_of(key, partitions, partitions)
            batch = filling.get(partition)
            if batch is None or batch.append(key=key, value=value, timestamp=None) is None:
                if batch is not None:  # full: send it, start the next
                    sent.append(await self._send(batch, partition))
                batch = filling[partition] = self._producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        for partition, batch in filling.items():
            sent.append(await self._send(batch, partition))
        await asyncio.gather(*sent)

    async def _send(self, batch: BatchBuilder, partition: int) -> asyncio.Future[Any]:
        sent: asyncio.Future[Any] = await self._producer.send_batch(
            batch, self._topic, partition=partition
        )
        return sent


async def read_ledger(settings: Settings, progress: Progress | None = None) -> LedgerFold:
    fold = LedgerFold()
    async for _, event in replay(settings, LEDGER_TOPIC, progress):
        if isinstance(event, QuotaReserved | QuotaReleased):
            fold.apply(event)
    return fold
