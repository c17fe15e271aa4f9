"""The consume loop every plain-aiokafka worker uses: admit, de-duplicate, handle,
dead-letter, commit.

Bad input never stops a service: a record that is not an admissible event of its topic
(services/shared/admission.py), a conflicting duplicate of an event_id (seen_events.py),
or one its handler rejects or keeps failing on (failure_policy.py) is written to
crm.dead-letters with the reason, and the loop goes on. When the batch's flush fails, the
records are applied one at a time under the same policy, so only the one at fault is
dead-lettered. Offsets are committed only after the batch's handlers and dead-letter
writes have finished, so a crash redelivers rather than loses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

import redis.asyncio as aioredis
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError

from schemas.envelope import Event
from schemas.topics import topic as registry_topic
from services.shared.admission import Plausibility, admit
from services.shared.codec import DecodeError, encode
from services.shared.dead_letters import dead_letter_for
from services.shared.failure_policy import RetryPolicy, is_outage, settle
from services.shared.kafka import new_consumer, new_producer
from services.shared.metrics import (
    BATCHES_RETRIED,
    DEAD_LETTERS,
    EVENTS_CONSUMED,
    EVENTS_REPEATED,
    EVENTS_RETRIED,
)
from services.shared.rejection import Rejected
from services.shared.seen_events import Seen, SeenEvents, conflict_reason
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
        listener: ConsumerRebalanceListener | None = None,
    ) -> None:
        """`flush`, when given, runs after a batch's handlers and before its offsets are
        committed: handlers may collect a batch's events and write them in one go.
        `listener`, when given, hears the group's rebalances."""
        self.settings = settings
        self.service = service
        self.topics = list(topics)
        self.handler = handler
        self.max_records = max_records
        self.flush = flush
        self.listener = listener
        subscribed = self.topics if listener is None else []  # else: subscribe() at start
        self.consumer: AIOKafkaConsumer = new_consumer(
            settings, *subscribed, group_id=group_id, **(consumer_options or {})
        )
        self.producer: AIOKafkaProducer = new_producer(settings)
        self.rule = Plausibility.of(settings)
        self.policy = RetryPolicy.of(settings)
        # Events from outside (SPEC "in" topics) are de-duplicated on event_id; our own
        # topics are written exactly once, in transactions, with ids of their own.
        self._from_outside = {t for t in self.topics if registry_topic(t).direction == "in"}
        self._redis: aioredis.Redis | None = None
        self.seen: SeenEvents | None = None
        if self._from_outside:
            self._redis = aioredis.Redis.from_url(settings.redis_url, socket_timeout=5)
            self.seen = SeenEvents(self._redis, group_id, settings.dedup_window_seconds)
        self._started = False

    @property
    def ready(self) -> bool:
        return self._started and joined(self.consumer)

    async def start(self) -> None:
        await self.producer.start()
        await self.consumer.start()
        if self.listener is not None:
            self.consumer.subscribe(
                [self.settings.topic(t) for t in self.topics], listener=self.listener
            )
        self._started = True

    async def stop(self) -> None:
        self._started = False
        await self.consumer.stop()
        await self.producer.stop()
        if self._redis is not None:
            await self._redis.aclose()

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
                except CommitFailedError:
                    # The group rebalanced under the batch: whoever owns its partitions
                    # now reads it again from the committed offsets (handlers are
                    # idempotent), and this process goes on with its new share.
                    log.warning("batch_commit_failed_rebalanced", service=self.service)
                except Exception as exc:
                    if not is_outage(exc) or isinstance(exc, KafkaError):
                        raise
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
        admitted: list[tuple[Record, str, Event]] = []
        for record in records:
            logical = self.settings.logical_topic(record.topic)
            try:
                event = admit(
                    logical,
                    record.value,
                    key=record.key,
                    timestamp_ms=record.timestamp,
                    max_bytes=self.settings.max_event_bytes,
                    rule=self.rule,
                )
            except DecodeError as exc:
                pending.append(await self._dead_letter(record, logical, exc.reason))
                continue
            admitted.append((record, logical, event))
        fresh: list[tuple[Record, str, Event]] = []
        for item, verdict in zip(admitted, await self._sift(admitted), strict=True):
            record, logical, event = item
            if verdict is Seen.CONFLICT:
                pending.append(await self._dead_letter(record, logical, conflict_reason(event)))
            elif verdict is Seen.REPEAT:
                EVENTS_REPEATED.labels(self.service, logical).inc()
            else:
                fresh.append(item)
        applied = await self._apply(fresh, pending)
        if self.seen is not None:
            await self.seen.remember([e for _, t, e in applied if t in self._from_outside])
        if pending:
            await asyncio.gather(*pending)
        await self.consumer.commit()

    async def _sift(self, admitted: list[tuple[Record, str, Event]]) -> list[Seen]:
        verdicts = [Seen.NEW] * len(admitted)
        if self.seen is None:
            return verdicts
        outside = [i for i, (_, t, _) in enumerate(admitted) if t in self._from_outside]
        sifted = await self.seen.sift([admitted[i][2] for i in outside])
        for i, verdict in zip(outside, sifted, strict=True):
            verdicts[i] = verdict
        return verdicts

    async def _apply(
        self, items: list[tuple[Record, str, Event]], pending: list[asyncio.Future[Any]]
    ) -> list[tuple[Record, str, Event]]:
        """Hand the batch to the handler and flush it; what was applied. A record the
        handler refuses or keeps failing on is dead-lettered. A flush that fails for
        another reason than an outage is retried one record at a time."""
        handled = [item for item in items if await self._settled(item, pending, flush=False)]
        if self.flush is None:
            return handled
        try:
            await self.flush()
        except Exception as exc:
            if is_outage(exc):
                raise
            log.warning("batch_flush_failed", error=repr(exc), records=len(handled))
            return [item for item in handled if await self._settled(item, pending, flush=True)]
        return handled

    async def _settled(
        self, item: tuple[Record, str, Event], pending: list[asyncio.Future[Any]], *, flush: bool
    ) -> bool:
        record, logical, event = item

        async def call() -> None:
            await self.handler(event, record)
            if flush and self.flush is not None:
                await self.flush()

        with structlog.contextvars.bound_contextvars(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            event_id=str(event.event_id),
            event_type=event.event_type,
        ):
            reason = await settle(
                call,
                self.policy,
                on_retry=lambda exc, n: EVENTS_RETRIED.labels(self.service, logical).inc(),
            )
        if reason is not None:
            pending.append(await self._dead_letter(record, logical, reason))
            return False
        EVENTS_CONSUMED.labels(self.service, logical, event.event_type).inc()
        return True

    async def _dead_letter(self, record: Record, logical: str, reason: str) -> asyncio.Future[Any]:
        log.warning(
            "dead_letter",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=reason,
        )
        DEAD_LETTERS.labels(self.service, logical).inc()
        letter = dead_letter_for(
            record, error=reason, service=self.service, timestamp_ms=record.timestamp
        )
        sent: asyncio.Future[Any] = await self.producer.send(
            self.settings.topic("crm.dead-letters"), encode(letter)
        )
        return sent


def joined(consumer: AIOKafkaConsumer) -> bool:
    """The consumer has its share of the group's partitions, possibly none: with more
    processes than partitions (a scaled-out service), one without any is ready too."""
    if consumer.assignment():
        return True
    subscription = consumer._subscription.subscription  # no public "joined" in aiokafka
    return subscription is not None and subscription.assignment is not None
