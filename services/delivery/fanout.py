"""The fan-out: one OutboundMessage per recipient of a dispatched plan or an automated
plan's firing, exactly once in what a read_committed consumer sees (SPEC section 5).

How exactly once holds:

- Everything goes out in Kafka transactions (services/shared/transactions.py) under a
  transactional id per input partition (so delivery scales out by partitions): the
  messages, a DeliveryProgressed record with the plan's cumulative counts, and the
  consumed input offsets. Starting the producer fences a predecessor and aborts what it
  left open, so the progress read next is all that ever committed.
- A dispatched plan is fanned out in chunks of recipients in customer-id order, one
  transaction each; each chunk's progress record names the last customer handled. Only
  the last chunk's transaction carries the dispatch's offset (and CompletePlan), so a
  crash anywhere leaves the dispatch to be read again, and the restart goes on after
  the last committed chunk.
- A big dispatched plan (more members than `delivery_shard_threshold`) is split into
  shards by a stable hash of the customer id: the dispatch's owner writes one
  PlanShardAssigned per partition of crm.delivery-shards (shard i on partition i) in one
  transaction with the dispatch's offset, and each shard is fanned out as above by its
  partition's owner, with its own checkpoint (DeliveryProgressed per shard) and its own
  CompletePlan; the plan processor completes the plan when every shard has reported.
- A firing is handled with its batch in one transaction. "Already messaged" is a mark
  per (plan, customer) naming the firing record that sent it, written before the
  commit: the same record read again after an abort is a retry and sends, a second
  firing of the pair is suppressed.
- The frequency cap decides each message_id once (quota's rule), so a retried chunk
  gets the same answers it got before the crash.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import redis.asyncio as aioredis
import structlog
from aiokafka import AIOKafkaProducer, TopicPartition

from schemas.delivery import DeliveryProgressed, PlanShardAssigned
from schemas.envelope import Event
from schemas.plans import Plan, PlanDispatched
from schemas.segments import AutomatedPlanFired
from services.customers.port import CustomerStore
from services.delivery import metrics
from services.delivery.blocks import BlockList
from services.delivery.catalog import AutomatedPlans
from services.delivery.domain.progress import newer
from services.delivery.domain.recipients import chunked, in_shard, still_to_handle
from services.delivery.keys import DeliveryKeys, delivery_prefix
from services.delivery.message_batches import MessageBatches, Packed
from services.delivery.progress_records import (
    ProgressKey,
    Shard,
    completion,
    count,
    progress_record,
    tally_of,
)
from services.delivery.recipient_judge import Decided, RecipientJudge
from services.delivery.rendering import PlanRenderer
from services.delivery.shops import ShopNames
from services.delivery.topic_follower import TopicFollower
from services.quota.port import QuotaPort
from services.shared import groups
from services.shared.admission import Plausibility
from services.shared.clock import Clock
from services.shared.codec import DecodeError, decode, encode
from services.shared.consumer import Record
from services.shared.crash import Checkpoint
from services.shared.failure_policy import RetryPolicy, settle
from services.shared.kafka import new_consumer, new_producer
from services.shared.partitioning import partition_of
from services.shared.projection_guard import ProjectionGate
from services.shared.rejection import Rejected
from services.shared.settings import Settings
from services.shared.transactions import (
    PartitionOutputs,
    TransactionalOutput,
    admit_or_letter,
    letter_for,
)

log = structlog.get_logger(__name__)

SERVICE = "delivery"
INPUTS = ("crm.plan-events", "crm.plan-firings", "crm.delivery-shards")
CHUNK_SIZE = 40_000
# Chunks decided ahead of the one committing, so Redis (the cap), Kafka and encoding
# overlap (1 ahead: 44k/s, 2: 58k/s on 200k recipients here). On 1M recipients
# (`crm bench --only delivery_fan_out`, 2-3 runs each): chunks of 10,000 with 2 ahead
# 8.8-9.3 s, with 4 ahead 7.2-8.4 s; 20,000 x 3 ahead 7.1-7.5 s; 40,000 x 2 or 3 ahead
# 6.5-7.1 s (fewer transactions and Redis round trips). Each chunk holds its messages
# (~20 MB at 40,000) in memory until committed.
DECIDE_AHEAD = 2
# How long a sharded plan's membership read for one shard serves the next ones here.
MEMBERS_KEPT_SECONDS = 60.0
# Shard records' ids derive from (plan, shard, count): a split written twice is one split.
_SHARD_NAMESPACE = uuid.UUID("0b6f2c1e-5a7d-4e39-9c1a-6f0d2e8b4a17")
# Why the transactions are sized so: a chunk's transaction costs ~30 ms on this broker
# whatever its size, and a crash redoes at most one chunk.


def delivery_transactional_id(settings: Settings) -> str:
    return f"{settings.topic_prefix}crm-delivery-fanout"


@dataclass
class _Pending:
    """What one transaction will carry besides a dispatch's chunks."""

    firings: list[tuple[Record, AutomatedPlanFired]] = field(default_factory=list)
    letters: list[Event] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)

    def consumed(self, record: Record) -> None:
        self.offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1


# An input event's handler: given its record and the pending transaction, the pending
# transaction that follows.
OnInput = Callable[[Record, Any, _Pending], Awaitable[_Pending]]


class FanOut:
    def __init__(
        self,
        settings: Settings,
        *,
        store: CustomerStore,
        quota: QuotaPort,
        blocks: BlockList,
        shops: ShopNames,
        redis: aioredis.Redis,
        clock: Clock,
        checkpoint: Checkpoint = lambda _: None,
        chunk_size: int = CHUNK_SIZE,
        decide_ahead: int = DECIDE_AHEAD,
        gate: ProjectionGate | None = None,
    ) -> None:
        self.settings = settings
        # The projections a recipient is judged by must be whole: read after `whole()`,
        # and a transaction commits only if none was lost meanwhile (else it aborts and
        # the batch is redone once they are rebuilt).
        self.gate = gate
        self._generations: tuple[str | None, ...] = ()
        self.store = store
        self.keys = DeliveryKeys(delivery_prefix(settings))
        self.clock = clock
        self.checkpoint = checkpoint
        self.judge = RecipientJudge(
            store=store,
            quota=quota,
            blocks=blocks,
            redis=redis,
            keys=self.keys,
            shops=shops,
            clock=clock,
        )
        self.chunk_size = chunk_size
        self.decide_ahead = decide_ahead
        self.rule = Plausibility.of(settings)
        self.policy = RetryPolicy.of(settings)
        self.group_id = groups.delivery(settings)
        # The latest progress of each (plan, shard); an unsharded plan is shard 0 of 1.
        self.progress: dict[ProgressKey, DeliveryProgressed] = {}
        self.plans = AutomatedPlans(settings)
        self._progress_reader = TopicFollower(settings, "crm.delivery-progress")
        self._outbound = settings.topic("crm.outbound-messages")
        self._progress_topic = settings.topic("crm.delivery-progress")
        self._shards_topic = settings.topic("crm.delivery-shards")
        self._commands = settings.topic("crm.plan-commands")
        self._letters = settings.topic("crm.dead-letters")
        # A revocation waits for the batch in flight. The rebalance timeout stays the
        # session timeout: a longer one also makes the group wait that long for a member
        # killed with SIGKILL. A fan-out longer than it is fenced by the new owner and
        # redone from its last committed chunk.
        self.consumer = new_consumer(settings, group_id=self.group_id, max_poll_records=500)
        # A transactional output per input partition: N delivery processes share the
        # partitions, each written by one (services/shared/transactions.py).
        self.outputs = PartitionOutputs(
            settings,
            delivery_transactional_id(settings),
            name=SERVICE,
            group_id=self.group_id,
            consumer=self.consumer,
            rebuild=self._rebuild,
            on_abort=metrics.TRANSACTIONS_ABORTED.inc,
            linger_ms=0,
            max_batch_size=512 * 1024,
            max_request_size=4 * 1024 * 1024,
        )
        self.consumer.subscribe([settings.topic(t) for t in INPUTS], listener=self.outputs)
        self._output: TransactionalOutput | None = None
        # What each input event does to the batch's pending transaction.
        self._handlers: dict[type[Event], OnInput] = {
            PlanDispatched: self._on_dispatched,
            PlanShardAssigned: self._on_shard,
            AutomatedPlanFired: self._on_fired,
        }
        self._outbound_partitions: list[int] = []
        self._progress_partitions = 1
        self._members_cache: tuple[tuple[str, str, date | None], float, list[str]] | None = None
        self._shard_partitions = 1
        self._ready = False

    @property
    def ready(self) -> bool:
        return self._ready

    # --- running ------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        try:
            await self._start()
            while not stopping.is_set():
                generation = self.outputs.assignments
                batch = await self.consumer.getmany(timeout_ms=500, max_records=500)
                records = [r for rs in batch.values() for r in rs]
                if records:
                    # Kafka or Redis away or too slow, or a partition moved away: what
                    # committed stays, the rest is redone from the committed offsets and
                    # progress (the cap's answers are remembered).
                    await self.outputs.guarded(
                        lambda: self._process_partitions(batch),  # noqa: B023
                        fetched_in=generation,
                    )
        finally:
            self._ready = False
            await self.consumer.stop()
            await self.plans.stop()
            await self._progress_reader.stop()
            await self.outputs.stop()

    async def _start(self) -> None:
        # Each partition's producer starts on assignment: its start fences the partition's
        # previous owner and aborts what it left open, and the progress is folded after
        # it, so it holds everything that will ever be committed for the partition.
        await self._progress_reader.start()
        started = time.perf_counter()
        await self._catch_up_progress()
        await self.plans.start()
        probe = new_producer(self.settings)
        await probe.start()
        try:
            self._outbound_partitions = sorted(await probe.partitions_for(self._outbound))
            self._progress_partitions = len(await probe.partitions_for(self._progress_topic))
            self._shard_partitions = len(await probe.partitions_for(self._shards_topic))
        finally:
            await probe.stop()
        await self.consumer.start()
        self._ready = True
        log.info(
            "delivery_ready",
            plans_in_progress=len({k[0] for k, p in self.progress.items() if not p.done}),
            seconds=round(time.perf_counter() - started, 3),
        )

    @property
    def output(self) -> TransactionalOutput:
        """The output of the partition whose records are being handled."""
        assert self._output is not None
        return self._output

    @property
    def producer(self) -> AIOKafkaProducer:
        return self.output.producer

    async def _catch_up_progress(self) -> None:
        await self._progress_reader.catch_up(self._fold_progress)

    async def _rebuild(self, _: set[TopicPartition]) -> None:
        await self._catch_up_progress()

    async def _process_partitions(self, batch: dict[TopicPartition, list[Record]]) -> None:
        """Each partition's records under its own output, one after the other."""
        for tp, records in batch.items():
            output = self.outputs.output_for(tp)
            if output is None:
                continue  # fetched before the partition moved away: its owner reads it
            self._output = output
            try:
                await self._process(records)
            finally:
                self._output = None

    def _fold_progress(self, record: Record) -> None:
        try:
            event = decode("crm.delivery-progress", record.value, max_bytes=1 << 20)
        except DecodeError as exc:
            log.error("progress_unreadable", offset=record.offset, error=exc.reason)
            return
        assert isinstance(event, DeliveryProgressed)
        key = (event.plan_id, event.shard)
        self.progress[key] = newer(self.progress.get(key), event)

    # --- one batch of input -------------------------------------------------------------

    async def _process(self, records: list[Record]) -> None:
        pending = _Pending()
        if self.gate is not None:
            self._generations = await self.gate.whole()
        for record in records:
            event = admit_or_letter(
                self.settings, record, self.rule, service=SERVICE, letters=pending.letters
            )
            handle = None if event is None else self._handlers.get(type(event))
            if handle is None:  # lettered, or an event delivery has nothing to do with
                pending.consumed(record)
                continue
            pending = await handle(record, event, pending)
        await self._commit_pending(pending)

    async def _on_dispatched(
        self, record: Record, event: PlanDispatched, pending: _Pending
    ) -> _Pending:
        """A dispatch goes in its own transactions: what is pending commits first."""
        await self._commit_pending(pending)
        here = {TopicPartition(record.topic, record.partition): record.offset + 1}
        reason = await settle(lambda: self._dispatch(event.plan, here), self.policy)
        if reason is not None:
            # Its offset goes with the letter: the dispatch is settled, not lost.
            letter = letter_for(record, reason, service=SERVICE)
            await self._commit_pending(_Pending(letters=[letter], offsets=here))
        return _Pending()

    async def _on_shard(
        self, record: Record, event: PlanShardAssigned, pending: _Pending
    ) -> _Pending:
        """A shard of a big plan: fanned out like a whole plan, in its own transactions."""
        await self._commit_pending(pending)
        here = {TopicPartition(record.topic, record.partition): record.offset + 1}
        shard = Shard(event.shard, event.shard_count, event.as_of)
        reason = await settle(lambda: self._fan_out(event.plan, here, shard), self.policy)
        if reason is not None:
            letter = letter_for(record, reason, service=SERVICE)
            await self._commit_pending(_Pending(letters=[letter], offsets=here))
        return _Pending()

    async def _on_fired(
        self, record: Record, event: AutomatedPlanFired, pending: _Pending
    ) -> _Pending:
        """Firings are decided together, in the batch's transaction."""
        pending.firings.append((record, event))
        pending.consumed(record)
        return pending

    # --- a dispatched plan --------------------------------------------------------------

    async def _dispatch(self, plan: Plan, offsets: dict[TopicPartition, int]) -> None:
        """Fan the plan out here, or split it into shards for the shard partitions'
        owners. A plan this process began whole (a checkpoint of shard 0 of 1) goes on
        whole: the split is decided once, at the plan's start."""
        begun = self.progress.get((plan.plan_id, 0))
        if begun is not None and begun.shard_count > 1:
            await self._commit_pending(_Pending(offsets=offsets))  # split already
            return
        if plan.type == "automated" or begun is not None:
            await self._fan_out(plan, offsets)
            return
        as_of = await self.store.latest_as_of(plan.seller_id)
        size = 0
        if as_of is not None:
            sized_as_of, sizes = await self.store.sizes(plan.seller_id)
            size = sizes.get(plan.segment_id, 0) if sized_as_of == as_of else 0
        count = self.settings.delivery_shards or self._shard_partitions
        count = min(count, self._shard_partitions)
        if count < 2 or size <= self.settings.delivery_shard_threshold or self._alone():
            await self._fan_out(plan, offsets)
            return
        await self._split(plan, as_of, count, offsets)

    def _alone(self) -> bool:
        """This process owns every shard partition: no other process is in the group to
        share a split plan, which would only cost the split. Unless shards are asked for
        by count (`delivery_shards`)."""
        if self.settings.delivery_shards:
            return False
        owned = {tp.partition for tp in self.outputs.assigned if tp.topic == self._shards_topic}
        return len(owned) >= self._shard_partitions

    async def _split(
        self, plan: Plan, as_of: date | None, count: int, offsets: dict[TopicPartition, int]
    ) -> None:
        """One PlanShardAssigned per shard, shard i on partition i, with the dispatch's
        offset: the dispatch is split once and for all, or not at all."""
        now = self.clock()
        shards = [
            PlanShardAssigned(
                event_id=uuid.uuid5(_SHARD_NAMESPACE, f"{plan.plan_id}/{n}/{count}"),
                occurred_at=now,
                seller_id=plan.seller_id,
                plan_id=plan.plan_id,
                plan=plan,
                as_of=as_of,
                shard=n,
                shard_count=count,
            )
            for n in range(count)
        ]
        await self._still_whole()
        async with self.output.transaction():
            sends = [
                await self.producer.send(
                    self._shards_topic, encode(s), key=plan.plan_id.encode(), partition=s.shard
                )
                for s in shards
            ]
            await self.output.consumed(offsets)
            await asyncio.gather(*sends)
            self.checkpoint("shards_sent")
        log.info("fan_out_split", plan_id=plan.plan_id, shards=count, as_of=str(as_of))

    async def _fan_out(
        self, plan: Plan, offsets: dict[TopicPartition, int], shard: Shard | None = None
    ) -> None:
        shard = shard or Shard.WHOLE
        progress = self.progress.get((plan.plan_id, shard.index))
        if plan.type == "automated" or (progress is not None and progress.done):
            await self._commit_pending(_Pending(offsets=offsets))  # a dispatch read again
            return
        as_of = progress.as_of if progress else shard.as_of
        if as_of is None or not await self.store.has_day(plan.seller_id, as_of):
            # A plan's start, or the day it pinned was lost with Redis (a healed customers
            # projection is recomputed as of today only): the latest day.
            as_of = await self.store.latest_as_of(plan.seller_id)
        if shard.count > 1:
            members = in_shard(await self._shared_members(plan, as_of), shard.index, shard.count)
        else:
            members = await self._members(plan, as_of)
        last = progress.last_customer_id if progress else None
        todo = still_to_handle(members, last)
        del members
        tally = tally_of(progress)
        renderer = await self.judge.renderer(plan)
        metrics.FANOUT_RECIPIENTS.set(tally.recipients + len(todo))
        metrics.FANOUT_HANDLED.set(tally.recipients)
        log.info(
            "fan_out_started",
            plan_id=plan.plan_id,
            seller_id=plan.seller_id,
            segment_id=plan.segment_id,
            as_of=str(as_of),
            shard=f"{shard.index}/{shard.count}",
            resumed_after=tally.recipients,
            to_handle=len(todo),
        )
        started = time.perf_counter()
        chunks = list(chunked(todo, self.chunk_size)) or [[]]
        # The next chunks are decided (Redis, encoding) while this one's transaction goes
        # to Kafka: a decision made early is made once (the cap remembers it), so a
        # chunk redone after a failure gets the same answers.
        deciding: deque[asyncio.Task[tuple[Decided, Packed]]] = deque()

        next_chunk = 0

        def decide_ahead(upto: int) -> None:
            nonlocal next_chunk
            while next_chunk < min(upto, len(chunks)):
                chunk = chunks[next_chunk]
                deciding.append(asyncio.create_task(self._decide_and_pack(plan, chunk, renderer)))
                next_chunk += 1

        try:
            for n, chunk in enumerate(chunks):
                chunk_started = time.perf_counter()
                final = n == len(chunks) - 1
                decide_ahead(n + 1 + self.decide_ahead)
                decided, packed = await deciding.popleft()
                tally = tally.add(decided.outcomes)
                last = chunk[-1] if chunk else last
                record = progress_record(
                    plan, as_of, last, tally, done=final, at=self.clock(), shard=shard
                )
                await self._commit_chunk(plan, packed, record, offsets if final else None)
                self.progress[plan.plan_id, shard.index] = record
                count(plan, decided.outcomes)
                metrics.FANOUT_HANDLED.set(tally.recipients)
                metrics.CHUNK_SECONDS.observe(time.perf_counter() - chunk_started)
        finally:
            for task in deciding:
                task.cancel()
            await asyncio.gather(*deciding, return_exceptions=True)
        metrics.FANOUTS_COMPLETED.inc()
        metrics.FANOUT_RECIPIENTS.set(0)
        metrics.FANOUT_HANDLED.set(0)
        seconds = time.perf_counter() - started
        log.info(
            "fan_out_completed",
            plan_id=plan.plan_id,
            shard=f"{shard.index}/{shard.count}",
            recipients=tally.recipients,
            sent=tally.sent,
            suppressed=dict(tally.suppressed),
            seconds=round(seconds, 3),
        )

    async def _members(self, plan: Plan, as_of: date | None) -> list[str]:
        if as_of is None:
            return []
        pages = self.store.members(plan.seller_id, plan.segment_id, as_of)
        return [c async for page in pages for c in page]

    async def _shared_members(self, plan: Plan, as_of: date | None) -> list[str]:
        """A sharded plan's whole membership, read once for the shards this process
        handles one after the other (a process owning k shard partitions would read a
        million ids k times). Kept a short while only: the next shard comes at once."""
        key = (plan.seller_id, plan.segment_id, as_of)
        cached = self._members_cache
        if cached is not None and cached[0] == key and time.monotonic() < cached[1]:
            return cached[2]
        self._members_cache = None
        members = await self._members(plan, as_of)
        self._members_cache = (key, time.monotonic() + MEMBERS_KEPT_SECONDS, members)
        return members

    async def _decide_and_pack(
        self, plan: Plan, chunk: list[str], renderer: PlanRenderer
    ) -> tuple[Decided, Packed]:
        decided = await self.judge.page(plan, chunk, renderer)
        messages, decided.messages = decided.messages, []  # held once, in the batches
        packed = await Packed.of(self.producer, self._outbound_partitions, messages)
        return decided, packed

    async def _commit_chunk(
        self,
        plan: Plan,
        packed: Packed,
        record: DeliveryProgressed,
        completing: dict[TopicPartition, int] | None,
    ) -> None:
        """One chunk's messages and progress in one transaction; the last chunk also
        completes the plan and consumes its dispatch."""
        await self._still_whole()
        async with self.output.transaction():
            await packed.send(self.producer, self._outbound)
            sends = [await self._send_progress(record)]
            if completing is not None:
                command = completion(plan, record, self.clock())
                sends.append(await self._send(self._commands, command, plan.seller_id))
                await self.output.consumed(completing)
            await asyncio.gather(*sends)
            self.checkpoint("chunk_sent")
        self.checkpoint("chunk_committed")

    # --- firings of automated plans -----------------------------------------------------

    async def _commit_pending(self, pending: _Pending) -> None:
        if not (pending.firings or pending.letters or pending.offsets):
            return
        decided: list[tuple[Plan, Decided]] = []
        by_plan: dict[str, list[tuple[Record, AutomatedPlanFired]]] = defaultdict(list)
        for record, firing in pending.firings:
            by_plan[firing.plan_id].append((record, firing))
        for plan_id, firings in by_plan.items():
            reason = await settle(
                lambda: self._decide_firings(plan_id, firings, decided),  # noqa: B023
                self.policy,
            )
            if reason is not None:
                pending.letters += [letter_for(r, reason, service=SERVICE) for r, _ in firings]
        records: list[DeliveryProgressed] = []
        now = self.clock()
        for plan, outcome in decided:
            tally = tally_of(self.progress.get((plan.plan_id, 0))).add(outcome.outcomes)
            records.append(progress_record(plan, None, None, tally, done=False, at=now))
        await self._still_whole()
        async with self.output.transaction():
            batches = MessageBatches(self.producer, self._outbound, self._outbound_partitions)
            for _, outcome in decided:
                for key, value in outcome.messages:
                    await batches.add(key, value)
            await batches.flush()
            sends = [await self._send_progress(r) for r in records]
            sends += [await self._send(self._letters, letter, None) for letter in pending.letters]
            await self.output.consumed(pending.offsets)
            await asyncio.gather(*sends)
            if decided:
                self.checkpoint("firings_sent")
        for record in records:
            self.progress[record.plan_id, 0] = record
        for plan, outcome in decided:
            count(plan, outcome.outcomes)

    async def _decide_firings(
        self,
        plan_id: str,
        firings: list[tuple[Record, AutomatedPlanFired]],
        decided: list[tuple[Plan, Decided]],
    ) -> None:
        plan = await self.plans.get(plan_id, firings[0][1].plan_version)
        if plan is None:
            raise Rejected(f"unknown automated plan {plan_id}")
        marks = [(f.customer_id, f"{r.topic}:{r.partition}:{r.offset}") for r, f in firings]
        decided.append((plan, await self.judge.firings(plan, marks)))

    async def _still_whole(self) -> None:
        if self.gate is not None:
            await self.gate.unchanged(self._generations)

    async def _send_progress(self, record: DeliveryProgressed) -> asyncio.Future[object]:
        """Keyed by (plan, shard) for compaction, on the plan's partition: one reader of
        the topic (the performance projection) sees all of a plan's records, in order."""
        sent: asyncio.Future[object] = await self.producer.send(
            self._progress_topic,
            encode(record),
            key=record.progress_key.encode(),
            partition=partition_of(record.plan_id, self._progress_partitions),
        )
        return sent

    async def _send(self, topic: str, event: Event, key: str | None) -> asyncio.Future[object]:
        sent: asyncio.Future[object] = await self.producer.send(
            topic, encode(event), key=None if key is None else key.encode()
        )
        return sent
