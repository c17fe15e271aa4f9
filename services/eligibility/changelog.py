"""The worker's own topics, and reading one partition's state back from the changelog."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from aiokafka import TopicPartition
from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.eligibility.app import PARTITIONS, STATE
from services.shared.kafka import admin_client, new_consumer
from services.shared.settings import Settings

# The changelog is compacted: the latest row per key, tombstones for deleted chunks.
_CONFIGS = {STATE: {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}}


async def create_own_topics(settings: Settings) -> None:
    async with admin_client(settings) as client:
        existing = set(await client.list_topics())
        for name, configs in _CONFIGS.items():
            if settings.topic(name) in existing:
                continue
            with contextlib.suppress(TopicAlreadyExistsError):
                await client.create_topics(
                    [NewTopic(settings.topic(name), PARTITIONS, 1, topic_configs=configs)]
                )


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
