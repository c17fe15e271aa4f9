"""The one transactional loop's machinery, shared by every service that writes its output
in Kafka transactions (the plan processor, the delivery fan-out, the firing engine).

Each service keeps only its per-batch logic; what surrounds a batch is here:

- Fencing: `start` initialises the producer under its transactional id, which fences a
  predecessor with the same id and aborts whatever transaction it left open. Callers fold
  their state from the log only after it, so the fold sees everything that will ever
  commit. Being fenced later (a successor took over) is never retried: it is raised.
- One commit per batch: `transaction()` carries the batch's output records and, through
  `consumed`, the input offsets they were made from.
- Recovery, one policy for Kafka and Redis: `guarded(batch)` runs the batch; on an
  outage (failure_policy.is_outage) it waits with backoff, replaces the producer under the
  same id (aborting an open transaction whose outcome was unknown), lets the service
  rebuild what must be rebuilt (state folded from the log), and rewinds the consumer to
  the committed offsets, so the aborted batch is read again. Recovery itself retries
  until it succeeds: an outage never crashes the loop.
- Decode-or-dead-letter: `admit_or_letter` admits a record or turns it into a dead letter
  with the reason, never both, never neither.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import IllegalOperation, KafkaError, ProducerFenced

from schemas.envelope import Event
from services.shared.admission import Plausibility, admit
from services.shared.codec import DecodeError
from services.shared.consumer import Record
from services.shared.dead_letters import dead_letter_for
from services.shared.failure_policy import is_outage
from services.shared.kafka import new_producer
from services.shared.settings import Settings

log = structlog.get_logger(__name__)

RECOVERY_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
Rebuild = Callable[[], Awaitable[None]]


# Back-to-back recoveries (each batch after a recovery failed again: a long outage) start
# their wait further along the backoff, up to this index (5 s), instead of every ~1 s.
_STREAK_CAP = 3


def _delay(backoff: tuple[float, ...], attempt: int) -> float:
    return backoff[min(attempt, len(backoff) - 1)]


async def retry_while_outage(
    step: Callable[[], Awaitable[None]],
    *,
    output: str,
    event: str,
    backoff: tuple[float, ...],
    first_wait: int | None = None,
) -> int:
    """Run `step` until it succeeds; on an outage (Kafka or Redis away or too slow) log
    `event` and retry after the next backoff. Anything else, and being fenced, is raised.
    `first_wait`: wait before the first attempt too, from this backoff index. Returns the
    attempts made."""
    attempt = 0
    while True:
        if first_wait is not None:
            await asyncio.sleep(_delay(backoff, first_wait + attempt))
        attempt += 1
        try:
            await step()
            return attempt
        except ProducerFenced:
            raise
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning(event, output=output, attempt=attempt, error=repr(exc))
            if first_wait is None:
                await asyncio.sleep(_delay(backoff, attempt - 1))


class Fenced(ProducerFenced):  # type: ignore[misc]
    """Another process took this transactional id over: this one must stop writing."""


class TransactionBroken(KafkaError):  # type: ignore[misc]
    """A send found its transaction already failed: a produce of it was refused by the
    broker, and aiokafka then refuses further sends with IllegalOperation, a plain
    Exception, instead of that error. An outage like the refusal: the batch is redone."""


class TransactionalOutput:
    """One transactional producer with the fencing, commit and recovery around it."""

    def __init__(
        self,
        settings: Settings,
        transactional_id: str,
        *,
        name: str,
        group_id: str | None = None,
        consumer: AIOKafkaConsumer | None = None,
        rebuild: Rebuild | None = None,
        on_abort: Callable[[], None] = lambda: None,
        backoff: tuple[float, ...] = RECOVERY_BACKOFF_SECONDS,
        **producer_options: Any,
    ) -> None:
        self.settings = settings
        self.transactional_id = transactional_id
        self.name = name
        self.group_id = group_id
        self.consumer = consumer
        self.rebuild = rebuild
        self.on_abort = on_abort
        self.backoff = backoff
        self._options = {"linger_ms": 0, **producer_options}
        self._producer: AIOKafkaProducer | None = None
        self.recoveries = 0
        """Recoveries completed (tests and logs read it)."""
        self.streak = 0
        """Recoveries since a batch last completed."""

    @property
    def producer(self) -> AIOKafkaProducer:
        assert self._producer is not None, "start() first"
        return self._producer

    async def start(self) -> None:
        """Fence a predecessor under the same id and abort what it left open."""
        self._producer = new_producer(
            self.settings, transactional_id=self.transactional_id, **self._options
        )
        try:
            await self._producer.start()
        except BaseException:
            await self._producer.stop()
            self._producer = None
            raise

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AIOKafkaProducer]:
        """One transaction: committed when the block ends, aborted if it raises."""
        try:
            async with self.producer.transaction():
                yield self.producer
        except ProducerFenced as exc:
            log.error("transactional_output_fenced", output=self.name, id=self.transactional_id)
            raise Fenced(str(exc)) from exc
        except IllegalOperation as exc:
            raise TransactionBroken(str(exc)) from exc

    async def consumed(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit these input offsets with the current transaction."""
        if offsets:
            assert self.group_id is not None, "an output with input offsets needs its group"
            await self.producer.send_offsets_to_transaction(dict(offsets), self.group_id)

    async def guarded(self, batch: Callable[[], Awaitable[None]]) -> bool:
        """Run one batch; True if it completed. On an outage (Kafka or Redis away or too
        slow) the batch is abandoned, recovery runs, and False is returned: what committed
        stays, the rest is read again from the committed offsets."""
        try:
            await batch()
            self.streak = 0
            return True
        except ProducerFenced:
            raise
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning(f"{self.name}_batch_aborted", error=repr(exc))
            self.on_abort()
            await self.recover()
            return False

    async def recover(self) -> None:
        """A new producer under the same id, the service's rebuild, the rewind; retried
        with backoff until all three succeed."""

        async def renew() -> None:
            await self.stop()
            await self.start()
            if self.rebuild is not None:
                await self.rebuild()
            if self.consumer is not None:
                await rewind(self.consumer, self.consumer.assignment())

        attempts = await retry_while_outage(
            renew,
            output=self.name,
            event="transactional_recovery_failed",
            backoff=self.backoff,
            first_wait=min(self.streak, _STREAK_CAP),
        )
        self.recoveries += 1
        self.streak += 1
        log.info("transactional_output_recovered", output=self.name, attempts=attempts)


class PartitionOutputs(ConsumerRebalanceListener):  # type: ignore[misc]
    """A transactional output per assigned input partition, so a service scales out by
    partitions: N processes in one group share them, each partition written by exactly one.

    The pre-KIP-447 pattern (aiokafka 0.14's send_offsets_to_transaction takes a group id
    only, no generation or member id, so the broker cannot fence a stale group member):
    the id names the partition, its output is created on assignment and its `start`
    fences the previous owner's producer and aborts what it left open; only then does the
    service rebuild its state of the partition from the log (`rebuild`). A revocation
    waits for the batch in flight (the lock), so a rebalance never cuts a transaction in
    two: the batch commits or aborts whole, and the next owner reads from what committed.
    """

    def __init__(
        self,
        settings: Settings,
        id_prefix: str,
        *,
        name: str,
        group_id: str,
        consumer: AIOKafkaConsumer,
        id_of: Callable[[TopicPartition], str] = lambda tp: f"{tp.topic}-{tp.partition}",
        rebuild: Callable[[set[TopicPartition]], Awaitable[None]] | None = None,
        forget: Callable[[set[TopicPartition]], Awaitable[None]] | None = None,
        on_abort: Callable[[], None] = lambda: None,
        on_rewound: Callable[[set[TopicPartition]], None] = lambda _: None,
        backoff: tuple[float, ...] = RECOVERY_BACKOFF_SECONDS,
        **producer_options: Any,
    ) -> None:
        self.settings = settings
        self.id_prefix = id_prefix
        self.name = name
        self.group_id = group_id
        self.consumer = consumer
        self.id_of = id_of
        self.rebuild = rebuild
        self.forget = forget
        self.on_abort = on_abort
        # Called right after a rewind's seeks, before any other task runs: a service
        # that holds records it fetched but has not handled drops those of these
        # partitions (they are read again from the committed offsets).
        self.on_rewound = on_rewound
        self.backoff = backoff
        self._options = producer_options
        self.outputs: dict[str, TransactionalOutput] = {}
        self.assigned: set[TopicPartition] = set()
        self.assignments = 0
        """Assignments handled (tests wait on it)."""
        self.recoveries = 0
        """Recoveries completed: each renewed the outputs and rewound every partition."""
        self.streak = 0
        """Recoveries since a batch last completed."""
        self.assigned_once = asyncio.Event()
        # Exclusive holders (a rebalance, a recovery, a `guarded` batch) wait for the
        # batches running side by side (`guarded_side_by_side`) to end, and hold new
        # ones back until they are done.
        self._lock = asyncio.Lock()
        self._side_by_side = 0
        self._none_side_by_side = asyncio.Event()
        self._none_side_by_side.set()

    def output_for(self, tp: TopicPartition) -> TransactionalOutput | None:
        return self.outputs.get(self.id_of(tp)) if tp in self.assigned else None

    def any_output(self) -> TransactionalOutput | None:
        return next(iter(self.outputs.values()), None)

    @property
    def epoch(self) -> tuple[int, int]:
        """Changes with every assignment and every recovery: both rewind the consumer, so
        records fetched before a change may be stale (pass it as `fetched_in`)."""
        return self.assignments, self.recoveries

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        async with self._lock:
            await self._none_side_by_side.wait()
            yield

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._exclusive():
            self.assigned -= set(revoked)
            await self._close_unowned()
            if self.forget is not None and revoked:
                await self.forget(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        async with self._exclusive():
            new = set(assigned) - self.assigned
            self.assigned = set(assigned)
            await self._close_unowned()

            async def take_over() -> None:
                # Side by side: a service reading 18 partitions would otherwise hold the
                # group's rebalance for 18 producer starts in a row.
                opened = await asyncio.gather(
                    *(self._open(self.id_of(tp)) for tp in sorted(self.assigned)),
                    return_exceptions=True,
                )
                for failure in opened:
                    if isinstance(failure, BaseException):
                        raise failure
                # Only now, with every previous owner fenced and its last transaction
                # complete, are the committed offsets final: the positions the consumer
                # fetched before may be older.
                await self._seek_committed(self.assigned)
                if self.rebuild is not None and new:
                    await self.rebuild(new)

            await retry_while_outage(
                take_over,
                output=self.name,
                event="partition_outputs_open_failed",
                backoff=self.backoff,
            )
            self.assignments += 1
            self.assigned_once.set()
            log.info(
                "partition_outputs_assigned",
                output=self.name,
                partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in self.assigned),
            )

    async def _open(self, key: str) -> None:
        if key in self.outputs:
            return
        output = TransactionalOutput(
            self.settings,
            f"{self.id_prefix}-{key}",
            name=f"{self.name}:{key}",
            group_id=self.group_id,
            **self._options,
        )
        await output.start()  # fences the previous owner of the partition
        self.outputs[key] = output

    async def _close_unowned(self) -> None:
        owned = {self.id_of(tp) for tp in self.assigned}
        for key in [k for k in self.outputs if k not in owned]:
            await self.outputs.pop(key).stop()

    async def stop(self) -> None:
        for key in list(self.outputs):
            await self.outputs.pop(key).stop()

    async def guarded(
        self, batch: Callable[[], Awaitable[None]], *, fetched_in: int | None = None
    ) -> bool:
        """Run one batch with the assignment held still. Fenced (a partition moved to
        another process mid-batch) or an outage: the batch is abandoned, the outputs
        renewed, state rebuilt, and every owned partition rewound to its committed
        offsets. Returns True if the batch completed.

        `fetched_in`: `assignments` before the batch's records were fetched. If the
        assignment changed since, the batch is dropped and the owned partitions rewound
        to their committed offsets, to be read again."""
        async with self._exclusive():
            if fetched_in is not None and fetched_in != self.assignments:
                # Its records may have been fetched before the rebalance's rewind or
                # after it: back to the committed offsets either way, read again.
                log.info("batch_dropped_after_rebalance", output=self.name)
                await self._rewind_owned()
                return False
            try:
                await batch()
                self.streak = 0
                return True
            except ProducerFenced as exc:
                log.warning("partition_output_fenced", output=self.name, error=repr(exc))
            except Exception as exc:
                if not is_outage(exc):
                    raise
                log.warning(f"{self.name}_batch_aborted", error=repr(exc))
            self.on_abort()
            await self._recover()
            return False

    async def guarded_side_by_side(
        self,
        batch: Callable[[], Awaitable[None]],
        *,
        fetched_in: tuple[int, int],
        partitions: Iterable[TopicPartition],
    ) -> bool:
        """`guarded` for a batch of some partitions that runs beside the batches of the
        others, so one partition's commit never waits for another's (the caller runs at
        most one batch per partition at a time). A rebalance or a recovery waits for every
        running batch to end first, so neither cuts a transaction in two.

        `fetched_in`: `epoch` before the batch's records were fetched. If it changed
        since, the records may predate a rewind: the batch is dropped and its
        `partitions` rewound to their committed offsets, to be read again. A failure
        renews every output and rewinds every partition once the others' batches have
        ended, unless a recovery already did so after this batch began."""
        async with self._lock:
            stale = fetched_in != self.epoch
            self._side_by_side += 1
            self._none_side_by_side.clear()
        began_after = self.recoveries
        try:
            if stale:
                log.info("batch_dropped_after_rewind", output=self.name)
                await self._rewind(set(partitions) & self.assigned)
                return False
            await batch()
            self.streak = 0
            return True
        except ProducerFenced as exc:
            log.warning("partition_output_fenced", output=self.name, error=repr(exc))
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning(f"{self.name}_batch_aborted", error=repr(exc))
        finally:
            self._side_by_side -= 1
            if not self._side_by_side:
                self._none_side_by_side.set()
        self.on_abort()
        async with self._exclusive():
            if self.recoveries == began_after:
                await self._recover()
        return False

    async def _rewind_owned(self) -> None:
        await self._rewind(self.assigned)

    async def _rewind(self, partitions: set[TopicPartition]) -> None:
        await retry_while_outage(
            lambda: self._seek_committed(partitions),
            output=self.name,
            event="rewind_failed",
            backoff=self.backoff,
        )

    async def _seek_committed(self, partitions: set[TopicPartition]) -> None:
        partitions = set(partitions)
        await rewind(self.consumer, partitions)
        self.on_rewound(partitions)

    async def _recover(self) -> None:
        fenced = False

        async def renew() -> None:
            nonlocal fenced
            for key in list(self.outputs):
                await self.outputs.pop(key).stop()
            try:
                for tp in sorted(self.assigned):
                    await self._open(self.id_of(tp))
            except ProducerFenced:
                # Our partition belongs to another process now: the revocation follows.
                fenced = True
            else:
                if self.rebuild is not None and self.assigned:
                    await self.rebuild(set(self.assigned))
            await self._seek_committed(self.assigned)

        attempts = await retry_while_outage(
            renew,
            output=self.name,
            event="transactional_recovery_failed",
            backoff=self.backoff,
            first_wait=min(self.streak, _STREAK_CAP),
        )
        self.recoveries += 1
        self.streak += 1
        if fenced:
            log.warning("partition_outputs_fenced_in_recovery", output=self.name)
        else:
            log.info("transactional_output_recovered", output=self.name, attempts=attempts)


async def rewind(consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition]) -> None:
    """Back to the last committed offsets: what was read after them is read again.

    The committed offsets are looked up first and the seeks done together after, with no
    wait between them: a caller that acts right after the rewind sees every partition
    rewound, and no record fetched in between from a partition already rewound. They
    are looked up side by side: one round trip each, inside a rebalance that must end
    within the session timeout (delivery's 18 partitions in a row took 5 s on a busy
    machine)."""
    owned = sorted(set(partitions))
    looked_up = await asyncio.gather(*(consumer.committed(tp) for tp in owned))
    offsets = dict(zip(owned, looked_up, strict=True))
    fresh = [tp for tp, offset in offsets.items() if offset is None]
    if fresh:
        offsets.update(await consumer.beginning_offsets(fresh))
    for tp, offset in offsets.items():
        consumer.seek(tp, offset)


def next_offsets(records: Iterable[Record]) -> dict[TopicPartition, int]:
    """The offsets to commit once these records are handled: one past the last of each."""
    offsets: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
    return offsets


def admit_or_letter(
    settings: Settings,
    record: Record,
    rule: Plausibility,
    *,
    service: str,
    letters: list[Event],
) -> Event | None:
    """The record's admitted event, or None with its dead letter appended to `letters`."""
    try:
        return admit(
            settings.logical_topic(record.topic),
            record.value,
            key=record.key,
            timestamp_ms=record.timestamp,
            max_bytes=settings.max_event_bytes,
            rule=rule,
        )
    except DecodeError as exc:
        letters.append(letter_for(record, exc.reason, service=service))
        return None


def letter_for(record: Record, reason: str, *, service: str) -> Event:
    log.warning("dead_letter", topic=record.topic, offset=record.offset, error=reason)
    return dead_letter_for(record, error=reason, service=service, timestamp_ms=record.timestamp)
