"""The eligibility worker's consume-fold-commit loop: batches, one Kafka transaction per
partition per batch, partitions shared by every worker of the group.

    seller-metrics, chat-engagement, shop-blocks, appeals, eligibility-evaluations
        (partition p) ──► fold the poll's records into p's state ──► one transaction:
        changelog records + statuses + dead letters + consumed offsets of p
    evaluation-ticks (one partition, its owner) ──► one EvaluatePartition per partition

Each partition has its own transactional producer, `<group>-p<N>`: the worker that is
handed partition N starts it, which fences the previous owner (a killed worker's open
transaction is aborted at once, a slow one's next commit fails), and only then reads
p's state back from the changelog. So state, statuses and offsets move together.

De-duplication on event_id (SPEC section 6): each owned partition remembers the digests
of the last RECENT_EVENTS events it folded, in memory (services/shared/seen_events.py,
RecentEvents): an exact redelivery is skipped, a conflicting duplicate dead-lettered.
The window is lost when the partition is read back (restart, rebalance, failed batch);
then the folds' own idempotence (per seller and date, per message) is what holds.

A batch that fails for a reason other than an outage is read again (state back from the
changelog) with backoff, `handler_attempts` times in all; after that it is run with each
record's failure caught, so only the culprit is dead-lettered and the partition moves
on (services/shared/failure_policy.py). Outages are waited out and never counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError, ProducerFenced
from pydantic import ValidationError

from schemas.engagement import MessageDelivered, MessageRead
from schemas.envelope import Event
from schemas.seller import (
    EvaluationDue,
    SellerMetricsReported,
    SellerStatusChanged,
)
from services.eligibility import metrics
from services.eligibility.changelog import read_partition, send_batched
from services.eligibility.domain.decision import tick_refusal
from services.eligibility.domain.schedule import due_ticks
from services.eligibility.handlers import fold
from services.eligibility.partition_state import PartitionState
from services.eligibility.topics import (
    EVALUATIONS,
    SERVICE,
    STATE,
    EvaluatePartition,
    scheduled_tick,
)
from services.policy.domain import PolicyBook
from services.shared import groups
from services.shared.admission import Plausibility, admit
from services.shared.clock import Clock, utc_now
from services.shared.codec import DecodeError, encode
from services.shared.crash import failure_hook
from services.shared.dead_letters import dead_letter_for
from services.shared.failure_policy import RetryPolicy, failure_reason, is_outage
from services.shared.heap import freeze_what_lives_forever
from services.shared.kafka import new_consumer, new_producer
from services.shared.metrics import DEAD_LETTERS, EVENTS_CONSUMED
from services.shared.rejection import Rejected
from services.shared.seen_events import RecentEvents, Seen, conflict_reason
from services.shared.settings import Settings

FAIL_ON = "CRM_ELIGIBILITY_FAIL_ON_EVENT"
INPUTS = ("crm.seller-metrics", "crm.chat-engagement", "crm.shop-blocks", "crm.appeals")
TICKS = "crm.evaluation-ticks"
# Within a partition's batch: what the state learns first, then what decides on it.
ORDER = {name: n for n, name in enumerate((*INPUTS, EVALUATIONS))}
MAX_RECORDS = 20_000
# The loop yields this often within a batch, so that a long fold or a whole tick does
# not starve the group heartbeat (a missed session would hand the partitions away).
YIELD_EVERY = 1_000
# Event ids remembered per partition for de-duplication (~50 bytes each).
RECENT_EVENTS = 200_000
# How long a batch failed by an outage waits before it is read again.
OUTAGE_WAIT_SECONDS = 1.0
log = structlog.get_logger(__name__)


@dataclass
class Owned:
    state: PartitionState
    producer: AIOKafkaProducer
    recent: RecentEvents = field(default_factory=lambda: RecentEvents(RECENT_EVENTS))


@dataclass
class Processor:
    settings: Settings
    policies: PolicyBook
    clock: Clock
    partitions: int
    group: str = ""
    owned: dict[int, Owned] = field(default_factory=dict)
    restoring: bool = True
    # Consecutive failed attempts of each partition's batch (outages not counted).
    failures: dict[int, int] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.group = self.group or groups.eligibility(self.settings)
        self.topic_of = {self.settings.topic(n): n for n in (*INPUTS, EVALUATIONS, TICKS)}
        self.consumer = new_consumer(
            self.settings,
            group_id=self.group,
            partition_assignment_strategy=(RangePartitionAssignor,),
            max_partition_fetch_bytes=4 * 1024 * 1024,
            # A loaded machine can hold the loop for seconds (a tick decides a whole
            # partition); 20 s before the group gives a worker's partitions away.
            session_timeout_ms=20_000,
            heartbeat_interval_ms=2_000,
            fetch_max_bytes=32 * 1024 * 1024,
        )
        self.plain = new_producer(self.settings)
        self.plausibility = Plausibility.of(self.settings)
        self.ticks_partition = TopicPartition(self.settings.topic(TICKS), 0)
        self.retry = RetryPolicy.of(self.settings)
        # Tests only: the event_id whose fold fails every time (a poison pill).
        self.fail_on = failure_hook(FAIL_ON) if os.environ.get(FAIL_ON) else None

    # ---- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        await self.plain.start()
        self.consumer.subscribe(list(self.topic_of), listener=_Listener(self))
        await self.consumer.start()

    async def stop(self) -> None:
        async with self._lock:
            await self.consumer.stop()
            for owned in self.owned.values():
                await owned.producer.stop()
            self.owned.clear()
            await self.plain.stop()

    @property
    def ready(self) -> bool:
        return bool(self.consumer.assignment()) and not self.restoring

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            batch = await self.consumer.getmany(timeout_ms=200, max_records=MAX_RECORDS)
            ticks = batch.pop(self.ticks_partition, None)
            if batch:
                async with self._lock:
                    wait = await self._handle(batch)
                if wait:
                    await asyncio.sleep(wait)  # outside the lock: a rebalance may go on
            if ticks:
                # Outside the lock: a commit through the group may wait for a rebalance,
                # whose revocation waits for the lock.
                await self._fan_out(self.ticks_partition, ticks)

    # ---- partitions come and go --------------------------------------------------------

    async def on_revoked(self) -> None:
        # Wait for the batch under way: its transaction commits before anyone else starts.
        async with self._lock:
            self.restoring = True

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        mine = {tp.partition for tp in assigned if self.topic_of[tp.topic] != TICKS}
        async with self._lock:
            for partition in set(self.owned) - mine:
                await self.owned.pop(partition).producer.stop()
            new = sorted(mine - set(self.owned))
            taken = await asyncio.gather(*(self._take(p) for p in new))
            self.owned.update(zip(new, taken, strict=True))
            self.restoring = False
        # What was read back lives as long as the partition: out of the collector's
        # sight, so that full collections do not walk it again and again.
        freeze_what_lives_forever()
        log.info("partitions_assigned", partitions=sorted(self.owned))

    async def _take(self, partition: int) -> Owned:
        started = time.perf_counter()
        producer = new_producer(
            self.settings,
            transactional_id=f"{self.group}-p{partition}",
            linger_ms=20,
            max_batch_size=1024 * 1024,
            transaction_timeout_ms=120_000,
        )
        await producer.start()  # fences the previous owner, aborting its open transaction
        state = PartitionState(partition, self.policies, self.clock)
        records = await read_partition(self.settings, partition, state.restore)
        state.settle()
        log.info(
            "partition_restored",
            partition=partition,
            records=records,
            seconds=round(time.perf_counter() - started, 3),
            **state.sizes(),
        )
        return Owned(state, producer)

    async def _reset(self, partition: int) -> None:
        """After a failed transaction: state and positions back to the last commit."""
        owned = self.owned.pop(partition, None)
        if owned is not None:
            await owned.producer.stop()
        tps = [tp for tp in self.consumer.assignment() if tp.partition == partition]
        tps = [tp for tp in tps if self.topic_of[tp.topic] != TICKS]
        if not tps:
            return
        self.owned[partition] = await self._take(partition)
        for tp in tps:
            committed = await self.consumer.committed(tp)
            if committed is None:
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, committed)

    # ---- one poll ----------------------------------------------------------------------

    async def _handle(self, batch: dict[TopicPartition, list[Any]]) -> float:
        """Process the poll; how long to wait before the next one (backoff after failures)."""
        per_partition: dict[int, list[tuple[TopicPartition, list[Any]]]] = defaultdict(list)
        for tp, records in batch.items():
            if tp.partition in self.owned:
                per_partition[tp.partition].append((tp, records))
            else:
                # Fetched while the partition's state is still being read back (aiokafka
                # fetches before the assignment callback ends): read again later.
                self.consumer.seek(tp, records[0].offset)
        results = await asyncio.gather(
            *(self._process(p, parts) for p, parts in per_partition.items()),
            return_exceptions=True,
        )
        wait = 0.0
        for partition, result in zip(per_partition, results, strict=True):
            if not isinstance(result, BaseException):
                self.failures.pop(partition, None)
            elif isinstance(result, ProducerFenced) and not self._assigned(partition):
                # Another worker owns it now: drop it (taken back only if the group
                # assigns it to this worker again). Still assigned: the broker aborted
                # a transaction that outlasted its timeout; read the state back.
                log.warning("partition_fenced", partition=partition)
                await self.owned.pop(partition).producer.stop()
            else:
                if is_outage(result):
                    attempt, delay = self.failures.get(partition, 0), OUTAGE_WAIT_SECONDS
                else:
                    attempt = self.failures[partition] = self.failures.get(partition, 0) + 1
                    delay = self.retry.delay(attempt)
                log.warning(
                    "batch_failed", partition=partition, error=repr(result), attempt=attempt
                )
                wait = max(wait, delay)
                await self._reset(partition)
        return wait

    def _admit(self, name: str, record: Any) -> Event:
        """Decoded, with plausible times and the right key (services/shared/admission.py)."""
        return admit(
            name,
            record.value,
            key=record.key,
            timestamp_ms=record.timestamp,
            max_bytes=self.settings.max_event_bytes,
            rule=self.plausibility,
        )

    def _assigned(self, partition: int) -> bool:
        return any(
            tp.partition == partition and tp != self.ticks_partition
            for tp in self.consumer.assignment()
        )

    async def _process(self, partition: int, parts: list[tuple[TopicPartition, list[Any]]]) -> None:
        owned = self.owned[partition]
        state = owned.state
        statuses: list[SellerStatusChanged] = []
        letters: list[tuple[Any, str, str]] = []
        consumed: Counter[tuple[str, str]] = Counter()
        # Tried `attempts` times already: now each record's failure is its own.
        attempts = self.failures.get(partition, 0)
        isolating = attempts >= self.retry.attempts
        # The per-record path, looked up once per batch.
        sift, fail_on, engage = owned.recent.sift, self.fail_on, state.on_engagement
        report = state.on_metrics
        max_bytes, rule = self.settings.max_event_bytes, self.plausibility
        for tp, records in sorted(parts, key=lambda part: ORDER[self.topic_of[part[0].topic]]):
            name = self.topic_of[tp.topic]
            for n, record in enumerate(records, 1):
                if n % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let the heartbeat and other partitions run
                try:
                    if name == EVALUATIONS:
                        statuses.extend(await self._evaluate(state, record.value))
                        continue
                    event = admit(
                        name,
                        record.value,
                        key=record.key,
                        timestamp_ms=record.timestamp,
                        max_bytes=max_bytes,
                        rule=rule,
                    )
                    consumed[(name, event.event_type)] += 1
                    seen = sift(event)
                    if seen is Seen.REPEAT:
                        continue  # an exact redelivery: already folded
                    if seen is Seen.CONFLICT:
                        raise Rejected(conflict_reason(event))
                    if fail_on is not None:
                        fail_on(str(event.event_id))
                    # Deliveries, reads and reports, most of the stream, straight to
                    # their fold (the same as handlers.fold does).
                    if type(event) is MessageDelivered:
                        engage(event.seller_id, event.message_id, "delivered", event.delivered_at)
                    elif type(event) is MessageRead:
                        engage(event.seller_id, event.message_id, "read", event.read_at)
                    elif type(event) is SellerMetricsReported:
                        report(event)
                    else:
                        status = fold(state, event)
                        if status is not None:
                            statuses.append(status)
                except (DecodeError, Rejected) as exc:
                    letters.append((record, name, exc.reason))
                except Exception as exc:
                    if not isolating or is_outage(exc):
                        raise
                    log.exception("handler_failed", partition=partition, attempts=attempts)
                    letters.append((record, name, failure_reason(exc, attempts)))
        offsets = {tp: records[-1].offset + 1 for tp, records in parts}
        # Each status serialised once: published, and reused in its seller's row.
        encoded = {id(s): encode(s) for s in statuses}
        changes = state.changes(encoded)
        producer = owned.producer
        async with producer.transaction():
            sends = await send_batched(
                producer, self.settings.topic(STATE), changes, partition=partition
            )
            published = [(s.seller_id.encode(), encoded[id(s)]) for s in statuses]
            status_topic = self.settings.topic("crm.seller-status")
            sends += await send_batched(producer, status_topic, published)
            for record, name, reason in letters:
                sends.append(await producer.send(*self._letter(record, name, reason)))
            await producer.send_offsets_to_transaction(offsets, self.group)
            await asyncio.gather(*sends)
        for (name, event_type), count in consumed.items():
            EVENTS_CONSUMED.labels(SERVICE, name, event_type).inc(count)
        _count_statuses(statuses)

    async def _evaluate(
        self, state: PartitionState, raw: bytes | None
    ) -> list[SellerStatusChanged]:
        try:
            command = EvaluatePartition.model_validate_json(raw or b"")
        except ValidationError as exc:
            raise Rejected(f"not an EvaluatePartition: {exc.errors()[0]['msg']}") from exc
        started = time.perf_counter()
        sellers = state.sellers_of(command.market)
        statuses = []
        for start in range(0, len(sellers), YIELD_EVERY):
            part = sellers[start : start + YIELD_EVERY]
            statuses.extend(state.evaluate(command.market, command.effective_month, part))
            await asyncio.sleep(0)
        metrics.TICK_DECISIONS.labels(command.market).inc(len(statuses))
        metrics.EVALUATION_SECONDS.observe(time.perf_counter() - started)
        log.info(
            "partition_evaluated",
            market=command.market,
            month=command.effective_month,
            partition=state.partition,
            published=len(statuses),
        )
        return statuses

    def _letter(self, record: Any, name: str, reason: str) -> tuple[str, bytes]:
        log.warning("dead_letter", topic=record.topic, offset=record.offset, error=reason)
        DEAD_LETTERS.labels(SERVICE, name).inc()
        letter = dead_letter_for(
            record, error=reason, service=SERVICE, timestamp_ms=record.timestamp
        )
        return self.settings.topic("crm.dead-letters"), encode(letter)

    # ---- ticks -------------------------------------------------------------------------

    async def _fan_out(self, tp: TopicPartition, records: list[Any]) -> None:
        """Each tick becomes one EvaluatePartition per partition, so that every partition's
        owner decides its own sellers. Sent before the tick's offset is committed: a crash
        in between sends them again, and a repeated evaluation publishes nothing new."""
        sends = []
        for record in records:
            try:
                event = self._admit(TICKS, record)
                assert isinstance(event, EvaluationDue)
            except DecodeError as exc:
                sends.append(await self.plain.send(*self._letter(record, TICKS, exc.reason)))
                continue
            refusal = tick_refusal(event.market, event.effective_month, event.occurred_at)
            if refusal is not None:
                log.warning("tick_refused", market=event.market, reason=refusal)
                metrics.TICKS.labels(event.market, "refused").inc()
                continue
            metrics.TICKS.labels(event.market, "accepted").inc()
            command = EvaluatePartition(
                market=event.market,
                effective_month=event.effective_month,
                tick_id=str(event.event_id),
            )
            value = command.model_dump_json().encode()
            topic = self.settings.topic(EVALUATIONS)
            for partition in range(self.partitions):
                sends.append(await self.plain.send(topic, value, partition=partition))
        await asyncio.gather(*sends)
        await self.consumer.commit({tp: records[-1].offset + 1})

    async def schedule(
        self, interval: float, stopping: asyncio.Event, emitted: set[tuple[str, str]]
    ) -> None:
        """Emit EvaluationDue at 00:00 market-local on the 1st: the owner of the ticks
        partition does (one worker of the group), like a leader timer. `emitted`: the
        ticks this process sent at start."""
        topic = self.settings.topic(TICKS)
        while not stopping.is_set():
            if self.ticks_partition in self.consumer.assignment():
                now = utc_now()
                for market, month in due_ticks(now, emitted):
                    tick = scheduled_tick(market, month)
                    await self.plain.send_and_wait(topic, encode(tick), key=market.encode())
                    emitted.add((market, month))
                    metrics.SCHEDULED_TICKS.labels(market).inc()
                    log.info("tick_scheduled", market=market, month=month)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval)


def _count_statuses(statuses: list[SellerStatusChanged]) -> None:
    # Counted per label set first: a tick publishes a status per seller.
    by_reason = Counter((s.access, s.reason) for s in statuses)
    by_level = Counter(
        (s.market, s.access, "none" if s.level is None else str(s.level)) for s in statuses
    )
    for (access, reason), count in by_reason.items():
        metrics.STATUSES.labels(access, reason).inc(count)
    for (market, decided, level), count in by_level.items():
        metrics.DECISIONS.labels(market, decided, level).inc(count)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, processor: Processor) -> None:
        self.processor = processor

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.processor.on_revoked()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        try:
            await self.processor.on_assigned(set(assigned))
        except KafkaError:
            log.exception("partition_take_failed")
            raise
