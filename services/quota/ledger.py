"""crm.quota-ledger: every reservation and release, written before it is answered,
and read back to rebuild the counters."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from schemas.quota import QuotaReleased, QuotaReserved
from services.quota.domain.ledger import LedgerEvent, LedgerFold
from services.quota.replay import Progress, replay
from services.shared.codec import encode
from services.shared.settings import Settings

LEDGER_TOPIC = "crm.quota-ledger"


class LedgerWriter:
    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self._topic = settings.topic(LEDGER_TOPIC)
        self._producer = producer

    async def publish(self, events: Sequence[LedgerEvent]) -> None:
        """Returns once Kafka acknowledged every event (acks=all, idempotent producer).

        Sends are not awaited one by one: concurrent reservations share the
        producer's batches, and a plan's facts keep their order in its partition.
        """
        sent = [
            await self._producer.send(self._topic, encode(event), key=event.seller_id.encode())
            for event in events
        ]
        await asyncio.gather(*sent)


async def read_ledger(settings: Settings, progress: Progress | None = None) -> LedgerFold:
    fold = LedgerFold()
    async for _, event in replay(settings, LEDGER_TOPIC, progress):
        if isinstance(event, QuotaReserved | QuotaReleased):
            fold.apply(event)
    return fold
