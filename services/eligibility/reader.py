"""Eligibility's one public module: a seller's latest status, read straight from the
compacted crm.seller-status topic, and the calendar rules other services show or follow
(the metrics window behind a month's decision, when the next evaluation falls).

Only the seller's own partition is read (the key decides it), so this stays cheap
without a running worker or a database.
"""

from __future__ import annotations

from aiokafka import TopicPartition

from schemas.seller import SellerStatusChanged
from schemas.topics import topic as registry_topic
from services.eligibility.domain.calendar import add_months, month_at, next_evaluation, window
from services.shared.codec import DecodeError, decode
from services.shared.kafka import new_consumer
from services.shared.partitioning import partition_of
from services.shared.settings import Settings

__all__ = ["add_months", "latest_status", "month_at", "next_evaluation", "window"]


async def latest_status(settings: Settings, seller_id: str) -> SellerStatusChanged | None:
    spec = registry_topic("crm.seller-status")
    tp = TopicPartition(settings.topic(spec.name), partition_of(seller_id, spec.partitions))
    consumer = new_consumer(settings)
    await consumer.start()
    latest: SellerStatusChanged | None = None
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        key = seller_id.encode()
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=2000)
            for record in batch.get(tp, []):
                if record.key != key or record.value is None:
                    continue
                try:
                    event = decode(spec.name, record.value)
                except DecodeError:
                    continue  # this service wrote the topic; nothing else should be there
                if isinstance(event, SellerStatusChanged):
                    latest = event
            if not batch:
                break  # transaction markers at the end: nothing more to read
    finally:
        await consumer.stop()
    return latest
