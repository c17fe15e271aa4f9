"""Reading one partition's state back from the changelog (crm.eligibility-state, made
from the registry by ensure_topics like every other topic), and writing records in
whole batches inside a transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from services.eligibility.topics import STATE
from services.shared.kafka import new_consumer
from services.shared.settings import Settings

Records = Iterable[tuple[bytes | None, bytes | None]]
_by_key = DefaultPartitioner()


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


async def send_batched(
    producer: AIOKafkaProducer, topic: str, records: Records, partition: int | None = None
) -> list[asyncio.Future[object]]:
    """Send (key, value) records to `partition`, or each to its key's partition as
    `send` would choose it, in whole batches: a tick writes two records per seller,
    and a `send` per record costs more than deciding the seller. The futures of the
    batches; inside a transaction, like `send`."""
    partitions = sorted(await producer.partitions_for(topic)) if partition is None else []
    batches: dict[int, BatchBuilder] = {}
    futures: list[asyncio.Future[object]] = []
    for key, value in records:
        p = partition if partition is not None else _by_key(key, partitions, partitions)
        batch = batches.get(p)
        if batch is None:
            batch = batches[p] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None) is None:
            futures.append(await producer.send_batch(batch, topic, partition=p))
            batch = batches[p] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                # Larger than a whole batch: `send` makes it a batch of its own.
                futures.append(await producer.send(topic, value, key=key, partition=p))
                del batches[p]
    for p, batch in batches.items():
        if batch.record_count():
            futures.append(await producer.send_batch(batch, topic, partition=p))
    return futures
