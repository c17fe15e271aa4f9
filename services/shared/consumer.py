"""The consume loop every plain-aiokafka worker uses: decode, handle, dead-letter, commit.

Bad input never stops a service: a record that is not a valid event of its topic,
or that a handler rejects, is written to crm.dead-letters with the reason, and the
loop goes on. Offsets are committed only after the batch's handlers and
dead-letter writes have finished, so a crash redelivers rather than loses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from redis.exceptions import RedisError

from schemas.envelope import Event
from services.shared.codec import DecodeError, decode, encode
from services.shared.dead_letters import dead_letter_for
from services.shared.kafka import new_consumer, new_producer
from services.shared.metrics import BATCHES_RETRIED, DEAD_LETTERS, EVENTS_CONSUMED
from services.shared.rejection import Rejected
from services.shared.settings import Settings

log = structlog.get_logger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]
__all__ = ["DeadLetteringConsumer", "Record", "Rejected"]

Handler = Callable[[Event, Record], Awaitable[None]]
# Waits before a batch that failed on Redis is read again (the last one repeats).
REDIS_RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)
Flush = Callable[[], Awaitable[None]]


class DeadLetteringConsumer:
    def __init__(
        self,
        settings: Settings,
        *,
        service: str,
        topics: Sequence[str],
        group_id: str,
        handler: Handler,
        max_records: int = 500,
        consumer_options: dict[str, Any] | None = None,
        flush: Flush | None = None,
    ) -> None:
        """`flush`, when given, runs after a batch's handlers and before its offsets are
        committed: handlers may collect a batch's events and write them in one go."""
        self.settings = settings
        self.service = service
        self.topics = list(topics)
        self.handler = handler
        self.max_records = max_records
        self.flush = flush
        self.consumer: AIOKafkaConsumer = new_consumer(
            settings, *self.topics, group_id=group_id, **(consumer_options or {})
        )
        self.producer: AIOKafkaProducer = new_producer(settings)
        self._started = False

    @property
    def ready(self) -> bool:
        return self._started and bool(self.consumer.assignment())

    async def start(self) -> None:
        await self.producer.start()
        await self.consumer.start()
        self._started = True

    async def stop(self) -> None:
        self._started = False
        await self.consumer.stop()
        await self.producer.stop()

    async def run(self, stopping: asyncio.Event | None = None) -> None:
        stopping = stopping or asyncio.Event()
        await self.start()
        failures = 0
        try:
            while not stopping.is_set():
                batch = await self.consumer.getmany(timeout_ms=200, max_records=self.max_records)
                if not batch:
                    continue
                records = [r for records in batch.values() for r in records]
                try:
                    await self.process(records)
                    failures = 0
                except RedisError as exc:
                    # Redis away or too slow: the batch is read again once it answers.
                    # Handlers are idempotent (offsets commit only after them), so the
                    # part of the batch that did reach Redis changes nothing the 2nd time.
                    failures += 1
                    await self._read_again(records, exc, failures)
        finally:
            await self.stop()

    async def _read_again(self, records: Sequence[Record], exc: Exception, failures: int) -> None:
        delay = REDIS_RETRY_SECONDS[min(failures, len(REDIS_RETRY_SECONDS)) - 1]
        log.warning("batch_retried", service=self.service, error=str(exc), in_seconds=delay)
        BATCHES_RETRIED.labels(self.service).inc()
        first: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            first[tp] = min(first.get(tp, record.offset), record.offset)
        for tp, offset in first.items():
            self.consumer.seek(tp, offset)
        await asyncio.sleep(delay)

    async def process(self, records: Sequence[Record]) -> None:
        pending: list[asyncio.Future[Any]] = []
        for record in records:
            logical = self.settings.logical_topic(record.topic)
            with structlog.contextvars.bound_contextvars(
                topic=record.topic, partition=record.partition, offset=record.offset
            ):
                try:
                    event = decode(logical, record.value, max_bytes=self.settings.max_event_bytes)
                except DecodeError as exc:
                    pending.append(await self._dead_letter(record, logical, exc.reason))
                    continue
                with structlog.contextvars.bound_contextvars(
                    event_id=str(event.event_id), event_type=event.event_type
                ):
                    try:
                        await self.handler(event, record)
                    except Rejected as exc:
                        pending.append(await self._dead_letter(record, logical, exc.reason))
                        continue
                EVENTS_CONSUMED.labels(self.service, logical, event.event_type).inc()
        if self.flush is not None:
            await self.flush()
        if pending:
            await asyncio.gather(*pending)
        await self.consumer.commit()

    async def _dead_letter(self, record: Record, logical: str, reason: str) -> asyncio.Future[Any]:
        log.warning("dead_letter", error=reason)
        DEAD_LETTERS.labels(self.service, logical).inc()
        letter = dead_letter_for(
            record, error=reason, service=self.service, timestamp_ms=record.timestamp
        )
        sent: asyncio.Future[Any] = await self.producer.send(
            self.settings.topic("crm.dead-letters"), encode(letter)
        )
        return sent
