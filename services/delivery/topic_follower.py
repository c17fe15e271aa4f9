"""Reading a whole topic up to its current end, then again from there on demand: how
delivery rebuilds its checkpoints (crm.delivery-progress) and its automated plans
(crm.plan-events) without a consumer group."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.shared.consumer import Record
from services.shared.kafka import admin_client, new_consumer
from services.shared.settings import Settings


class TopicFollower:
    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.physical = settings.topic(topic)
        self._reader: AIOKafkaConsumer = new_consumer(settings, isolation_level="read_committed")
        self._assigned = False

    async def start(self) -> None:
        await self._reader.start()

    async def stop(self) -> None:
        await self._reader.stop()

    async def catch_up(self, fold: Callable[[Record], None]) -> int:
        """Fold every committed record from where the reader stands to the topic's end
        as of now; returns how many were read."""
        if not self._assigned:
            partitions = await self._partitions()
            self._reader.assign(partitions)
            await self._reader.seek_to_beginning(*partitions)
            self._assigned = True
        reader = self._reader
        partitions = list(reader.assignment())
        ends = await reader.end_offsets(partitions)
        remaining = {tp for tp in partitions if await reader.position(tp) < ends[tp]}
        read = 0
        while remaining:
            batch = await reader.getmany(*remaining, timeout_ms=500, max_records=10_000)
            for records in batch.values():
                for record in records:
                    fold(record)
                    read += 1
            for tp in list(remaining):
                if await reader.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return read

    async def _partitions(self) -> list[TopicPartition]:
        # `crm topics create` makes the topics; a worker started first waits for them.
        while True:
            async with admin_client(self.settings) as client:
                if self.physical in await client.list_topics():
                    described = await client.describe_topics([self.physical])
                    found = sorted(
                        TopicPartition(self.physical, p["partition"])
                        for t in described
                        for p in t["partitions"]
                    )
                    if found:
                        return found
            await asyncio.sleep(0.5)
