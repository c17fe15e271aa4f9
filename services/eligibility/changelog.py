"""Reading one partition's state back from the changelog (crm.eligibility-state, made
from the registry by ensure_topics like every other topic)."""

from __future__ import annotations

from collections.abc import Callable

from aiokafka import TopicPartition

from services.eligibility.topics import STATE
from services.shared.kafka import new_consumer
from services.shared.settings import Settings


async def read_partition(
    settings: Settings, partition: int, apply: Callable[[bytes, bytes | None], None]
) -> int:
    """Apply every committed changelog record of `partition`, in order; how many."""
    tp = TopicPartition(settings.topic(STATE), partition)
    consumer = new_consumer(settings, max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    count = 0
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        # read_committed: the end is the last stable offset, past every committed record.
        end = (await consumer.end_offsets([tp]))[tp]
        idle = 0
        while await consumer.position(tp) < end and idle < 3:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=50_000)
            records = batch.get(tp, [])
            # Only a transaction marker left before the end: nothing more to read.
            idle = 0 if records else idle + 1
            for record in records:
                apply(record.key, record.value)
                count += 1
    finally:
        await consumer.stop()
    return count
