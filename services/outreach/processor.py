"""The plan processor: the single writer of every seller's plans.

It consumes crm.plan-commands and crm.seller-status (co-partitioned by seller_id, so one
processor owns all of a seller's inputs) and, in one Kafka transaction per batch,
publishes the plan changes to crm.plan-events, the answers to crm.plan-replies and the
consumed offsets. A crash anywhere leaves either the whole batch or none of it in the
log; the next owner replays an uncommitted batch from the same offsets.

Its state is the log: on assignment it folds crm.plan-events of its partitions
(read_committed). Due plans (send_at reached, timeframe over) are acted on in the same
transactional loop, so a dispatch is published exactly once however often the process
restarts.
"""

from __future__ import annotations

import asyncio
import time
from asyncio import FIRST_COMPLETED
from collections import defaultdict
from datetime import datetime

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from schemas.envelope import Event
from schemas.plans import Plan, PlanDeleted
from schemas.seller import SellerStatusChanged
from schemas.topics import key_of
from services.outreach import metrics
from services.outreach.domain.lifecycle import Change
from services.outreach.events import plan_event
from services.outreach.handlers import Handlers, Outcome, PlanCommand
from services.outreach.plan_book import Draft, PlanBook
from services.outreach.read_model import PlanReadModel
from services.shared import groups
from services.shared.admission import Plausibility
from services.shared.clock import Clock, utc_now
from services.shared.codec import DecodeError, decode, encode
from services.shared.consumer import Record
from services.shared.failure_policy import RetryPolicy, settle
from services.shared.kafka import new_consumer
from services.shared.settings import Settings
from services.shared.transactions import (
    PartitionOutputs,
    TransactionalOutput,
    admit_or_letter,
    letter_for,
    next_offsets,
)

log = structlog.get_logger(__name__)

SERVICE = "outreach"
# How often the loop wakes without input, to act on due plans.
IDLE_WAKE_SECONDS = 0.2
# A partition with this many records waiting for its transaction is no longer fetched
# until they are taken: a processor that falls behind holds a bounded backlog.
MAX_WAITING_RECORDS = 2000
READ_MODEL_CHECK_SECONDS = 5.0


class PlanProcessor:
    def __init__(
        self,
        settings: Settings,
        handlers: Handlers,
        read_model: PlanReadModel,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.handlers = handlers
        self.read_model = read_model
        self.clock = clock
        self.rule = Plausibility.of(settings)
        self.policy = RetryPolicy.of(settings)
        self.book = PlanBook()
        self.group_id = groups.outreach(settings)
        self._commands = settings.topic("crm.plan-commands")
        self._statuses = settings.topic("crm.seller-status")
        self._events = settings.topic("crm.plan-events")
        self._replies = settings.topic("crm.plan-replies")
        self.consumer: AIOKafkaConsumer = new_consumer(
            settings,
            group_id=self.group_id,
            partition_assignment_strategy=(RangePartitionAssignor,),
            max_poll_records=500,
        )
        # A transactional id per partition number (commands and statuses are
        # co-partitioned and assigned together by range): N processors share the
        # partitions; a partition's new owner fences its previous one.
        self.outputs = PartitionOutputs(
            settings,
            f"{self.group_id}-processor",
            name=SERVICE,
            group_id=self.group_id,
            consumer=self.consumer,
            id_of=lambda tp: f"p{tp.partition}",
            rebuild=self._rebuild,
            forget=self._forget,
            on_abort=metrics.BATCHES_ABORTED.inc,
            on_rewound=self._drop_waiting,
            linger_ms=0,
        )
        self.loaded = asyncio.Event()
        self._last_read_model_check = 0.0
        # The transaction in flight of each input partition number.
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        # Input of a partition whose transaction is in flight, fetched meanwhile, with the
        # `epoch` it was fetched in: its next transaction takes it all.
        self._waiting: dict[int, list[tuple[tuple[int, int], list[Record]]]] = {}
        # Read-model writes of committed batches, off their partition's turn.
        self._projections: set[asyncio.Task[None]] = set()

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        # On assignment, a partition's transactional producer starts first (aborting what
        # a dead predecessor left open), so the fold that follows reads only committed
        # events.
        await self.consumer.start()
        self.consumer.subscribe([self._commands, self._statuses], listener=self.outputs)

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.outputs.stop()

    async def run(self, stopping: asyncio.Event) -> None:
        await self.start()
        try:
            while not stopping.is_set():
                await self.step()
        finally:
            # Each running transaction commits or aborts before the producers stop.
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
            await asyncio.gather(*self._projections, return_exceptions=True)
            await self.stop()

    async def step(self) -> None:
        """Hand each idle partition its new input and the plans that came due, one
        transaction each. Every partition is read all the time; the input of a
        partition whose transaction is in flight waits, and its next transaction takes
        all of it (batches form while a commit is under way, with no added delay),
        while the others go on: a command never waits for another partition's commit
        (transactions pipelined across partitions).

        Why every partition is read, the busy ones too: the consumer fetches a node's
        partitions in one request at a time, and leaves out (and for a while holds
        back) a partition whose fetched records were not taken; input of the others
        would then wait for that partition's commit."""
        self._reap()
        epoch = self.outputs.epoch
        due: dict[int, list[Plan]] = defaultdict(list)
        for plan in self.book.due(self.clock()):
            due[self.book.partition_of.get(plan.seller_id, -1)].append(plan)
        # Due plans of a busy partition wait for its transaction, whose end wakes the loop.
        ready = any(
            p not in self._in_flight and f"p{p}" in self.outputs.outputs for p in due
        ) or any(p not in self._in_flight for p in self._waiting)
        wait = 0.0 if ready else self._wait_seconds() or IDLE_WAKE_SECONDS
        fetched: dict[TopicPartition, list[Record]] = {}
        if self.consumer.assignment():
            fetch = asyncio.create_task(
                self.consumer.getmany(timeout_ms=int(wait * 1000), max_records=500)
            )
            # Woken by new input or by a partition's transaction ending (its waiting
            # input then goes at once).
            await asyncio.wait({fetch, *self._in_flight.values()}, return_when=FIRST_COMPLETED)
            if not fetch.done():
                fetch.cancel()
            await asyncio.wait({fetch})
            fetched = {} if fetch.cancelled() else fetch.result()
        else:
            await asyncio.sleep(wait)  # nothing assigned yet
        for tp, rs in fetched.items():
            if rs:
                self._wait(tp.partition, epoch, rs)
        now = self.clock()
        for partition in set(self._waiting) | set(due):
            if partition in self._in_flight:
                continue  # looked at again once its transaction ends
            chunks = self._waiting.pop(partition, [])
            self.consumer.resume(*self._paused_of(partition))
            records = [r for _, rs in chunks for r in rs]
            # Epochs only grow: the first chunk's is the oldest, and a batch with any
            # stale record is dropped whole and its partitions read again.
            fetched_in = chunks[0][0] if chunks else epoch
            work = self._partition_batch(
                partition, records, due.get(partition, []), now, fetched_in
            )
            self._in_flight[partition] = asyncio.create_task(work)
        await self._check_read_model()

    def _wait(self, partition: int, epoch: tuple[int, int], records: list[Record]) -> None:
        chunks = self._waiting.setdefault(partition, [])
        chunks.append((epoch, records))
        if sum(len(rs) for _, rs in chunks) >= MAX_WAITING_RECORDS:
            self.consumer.pause(
                *{TopicPartition(r.topic, r.partition) for _, rs in chunks for r in rs}
            )

    def _waiting_in(self, tp: TopicPartition) -> bool:
        return any(r.topic == tp.topic for _, rs in self._waiting.get(tp.partition, []) for r in rs)

    def _paused_of(self, partition: int) -> list[TopicPartition]:
        return [tp for tp in self.consumer.paused() if tp.partition == partition]

    def _drop_waiting(self, rewound: set[TopicPartition]) -> None:
        """These partitions were sought back to their committed offsets: what of them
        was fetched before is read again, so the copies waiting here go."""
        for partition in {tp.partition for tp in rewound}:
            kept = [
                (epoch, [r for r in rs if TopicPartition(r.topic, r.partition) not in rewound])
                for epoch, rs in self._waiting.pop(partition, [])
            ]
            kept = [(epoch, rs) for epoch, rs in kept if rs]
            if kept:
                self._waiting[partition] = kept

    def _reap(self) -> None:
        """Forget the partitions whose transaction ended; a bug in one stops the loop."""
        for partition, task in list(self._in_flight.items()):
            if task.done():
                del self._in_flight[partition]
                task.result()

    async def _partition_batch(
        self,
        partition: int,
        records: list[Record],
        due: list[Plan],
        now: datetime,
        epoch: tuple[int, int],
    ) -> None:
        async def batch() -> None:
            output = self.outputs.outputs.get(f"p{partition}")
            if output is None:
                return  # fetched before the partition moved away: its owner reads it
            await self._process(output, records, due, now)

        await self.outputs.guarded_side_by_side(
            batch,
            fetched_in=epoch,
            partitions={TopicPartition(r.topic, r.partition) for r in records},
        )

    def _wait_seconds(self) -> float:
        next_due = self.book.next_due()
        if next_due is None:
            return IDLE_WAKE_SECONDS
        return max(0.0, min(IDLE_WAKE_SECONDS, (next_due - self.clock()).total_seconds()))

    # --- one batch -------------------------------------------------------------------

    async def _process(
        self, output: TransactionalOutput, records: list[Record], due: list[Plan], now: datetime
    ) -> None:
        started = time.perf_counter()
        draft = Draft(self.book)
        partition_of = dict(self.book.partition_of)
        by_seller: dict[str, list[Record]] = defaultdict(list)
        letters: list[Event] = []
        for record in records:
            seller = record.key.decode() if record.key else ""
            by_seller[seller].append(record)
            partition_of.setdefault(seller, record.partition)
        due_by_seller: dict[str, list[Plan]] = defaultdict(list)
        for plan in due:
            due_by_seller[plan.seller_id].append(plan)

        async def seller_work(seller: str) -> list[Outcome]:
            # One seller's inputs in log order; sellers run side by side.
            done: list[Outcome] = []
            for record in by_seller.get(seller, []):
                done.append(await self._one(draft, record, now, letters))
            for plan in due_by_seller.get(seller, []):
                current = draft.get(plan.seller_id, plan.plan_id)
                if current is not None and current.version == plan.version:
                    done.append(await self.handlers.due(draft, current, now))
            return done

        sellers = set(by_seller) | set(due_by_seller)
        results = await asyncio.gather(*(seller_work(s) for s in sellers))
        outcomes = [o for per_seller in results for o in per_seller]
        async with output.transaction() as producer:
            # The records are queued, not awaited: the offsets go to the transaction
            # while they are produced, and the commit waits for both.
            sends = await self._publish(producer, outcomes, letters, now)
            offsets = next_offsets(records)
            for tp in offsets:
                position = await self.consumer.position(tp)
                if not self._waiting_in(tp):
                    # Past a commit marker the fetch ended on (crm.seller-status is
                    # written in transactions): else the group lags by 1 for ever. Not
                    # while later records of it wait: the position is past them too.
                    offsets[tp] = max(offsets[tp], position)
            # The answers acknowledged before the offsets join the transaction: the
            # broker checks each produce against the transaction, and one that meets
            # the offsets' join in progress is refused (NOT_ENOUGH_REPLICAS) and
            # retried only after the producer's backoff.
            await asyncio.gather(*sends)
            await output.consumed(offsets)
            if any(o.answer and o.answer.command == "SubmitPlan" for o in outcomes):
                # Test hook: a submit's changes and answer sent, not yet committed.
                self.handlers.checkpoint("before_commit")
        draft.commit(partition_of)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        # The answers are committed: the partition takes its next input while the read
        # model is written (writes are guarded by plan version, so their order does not
        # matter, and the API writes what it answers itself).
        changes = [(change, None) for o in outcomes for change, _ in o.changes]
        if changes:
            projection = asyncio.create_task(self._project(changes))
            self._projections.add(projection)
            projection.add_done_callback(self._projections.discard)

    async def _one(
        self, draft: Draft, record: Record, now: datetime, letters: list[Event]
    ) -> Outcome:
        event = admit_or_letter(self.settings, record, self.rule, service=SERVICE, letters=letters)
        if event is None:
            return Outcome()
        done: list[Outcome] = []

        async def handle() -> None:
            if isinstance(event, SellerStatusChanged):
                done.append(await self.handlers.status(draft, event, now))
                return
            command: PlanCommand = event  # type: ignore[assignment]
            outcome = await self.handlers.command(draft, command, now)
            answered = outcome.answer.outcome if outcome.answer else "none"
            metrics.COMMANDS.labels(command.event_type, answered).inc()
            done.append(outcome)

        reason = await settle(handle, self.policy)
        if reason is not None:
            letters.append(letter_for(record, reason, service=SERVICE))
            return Outcome()
        return done[-1]

    async def _publish(
        self,
        producer: AIOKafkaProducer,
        outcomes: list[Outcome],
        letters: list[Event],
        now: datetime,
    ) -> list[asyncio.Future[object]]:
        """Queue the batch's plan events, answers and dead letters; their acks returned."""
        sends = []
        for outcome in outcomes:
            for change, cause in outcome.changes:
                event = plan_event(change, cause, now)
                metrics.PLAN_EVENTS.labels(event.event_type).inc()
                sends.append(await self._send(producer, self._events, event))
            if outcome.answer is not None:
                sends.append(await self._send(producer, self._replies, outcome.answer))
        for letter in letters:
            sends.append(
                await self._send(producer, self.settings.topic("crm.dead-letters"), letter)
            )
        return sends

    async def _send(
        self, producer: AIOKafkaProducer, physical: str, event: Event
    ) -> asyncio.Future[object]:
        key = key_of(event)
        sent: asyncio.Future[object] = await producer.send(
            physical, encode(event), key=key.encode() if key is not None else None
        )
        return sent

    # --- state and read model ----------------------------------------------------------

    async def _rebuild(self, assigned: set[TopicPartition]) -> None:
        """On assignment, and after an aborted batch whose commit may have gone through:
        the book of these partitions folded from what did commit."""
        partitions = {tp.partition for tp in assigned if tp.topic == self._commands}
        self.book.forget_partitions(partitions)
        if partitions:
            await self.load(partitions)
        self.loaded.set()

    async def _forget(self, revoked: set[TopicPartition]) -> None:
        self._drop_waiting(set(revoked))
        self.book.forget_partitions({tp.partition for tp in revoked})

    async def load(self, partitions: set[int]) -> None:
        """Fold the committed plan events of these partitions into the book."""
        started = time.perf_counter()
        reader = new_consumer(self.settings, isolation_level="read_committed")
        await reader.start()
        count = 0
        try:
            tps = [TopicPartition(self._events, p) for p in sorted(partitions)]
            reader.assign(tps)
            await reader.seek_to_beginning(*tps)
            ends = await reader.end_offsets(tps)
            remaining = {tp for tp in tps if ends[tp] > 0}
            while remaining:
                batch = await reader.getmany(*remaining, timeout_ms=500)
                for tp, records in batch.items():
                    for record in records:
                        count += self._fold(record, tp.partition)
                for tp in list(remaining):
                    if await reader.position(tp) >= ends[tp]:
                        remaining.discard(tp)
        finally:
            await reader.stop()
        plans = [
            (plan, key in self.book.deleted)
            for key, plan in self.book.plans.items()
            if self.book.partition_of.get(key[0]) in partitions
        ]
        await self.read_model.put_many(plans)
        log.info(
            "plans_loaded",
            partitions=sorted(partitions),
            events=count,
            plans=len(plans),
            seconds=round(time.perf_counter() - started, 3),
        )

    def _fold(self, record: Record, partition: int) -> int:
        try:
            event = decode("crm.plan-events", record.value, max_bytes=1 << 20)
        except DecodeError as exc:
            # Only this processor writes the topic; a bad record is a bug to look at,
            # not a reason to stop owning the partition.
            log.error("plan_event_unreadable", offset=record.offset, error=exc.reason)
            return 0
        plan: Plan = event.plan  # type: ignore[attr-defined]
        self.book.apply(plan, deleted=isinstance(event, PlanDeleted), partition=partition)
        return 1

    async def _project(self, changes: list[tuple[Change, None]]) -> None:
        if not changes:
            return
        try:
            await self.read_model.put_many([(c.plan, c.event == "PlanDeleted") for c, _ in changes])
        except Exception:
            # The log has it; the periodic check rewrites the read model.
            log.exception("read_model_write_failed")
            self._last_read_model_check = 0.0

    async def _check_read_model(self) -> None:
        """After Redis lost data, write every owned plan again."""
        if time.monotonic() - self._last_read_model_check < READ_MODEL_CHECK_SECONDS:
            return
        self._last_read_model_check = time.monotonic()
        try:
            if await self.read_model.is_complete():
                return
            await self.read_model.put_many(
                [(plan, key in self.book.deleted) for key, plan in self.book.plans.items()]
            )
            await self.read_model.mark_complete()
            log.info("read_model_resynced", plans=len(self.book.plans))
        except Exception:
            log.exception("read_model_check_failed")
