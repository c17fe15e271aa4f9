"""The firing engine: hands one customer at a time to delivery when an automated plan's
trigger comes due for them (SPEC section 5), as AutomatedPlanFired on crm.plan-firings.

State, all rebuilt at start:

- the live automated plans, folded from crm.plan-events (read_committed, from the start);
- the pairs already fired, folded from crm.plan-firings up to its end;
- a timetable of when to look at each (plan, customer) pair next, filled by scanning each
  live plan's seller in the store and by `observe` (the projection's written batches).

A pair whose trigger came due fires only if the customer is in the plan's segment at that
instant, judged on the relationship as it stands (`domain.firing_segment`); one who is
not waits for the trigger's next due moment, if any.

Exactly once: every firing goes out in a Kafka transaction under a transactional id per
partition of crm.plan-firings (services/shared/transactions.py, which also recovers from
Kafka and Redis outages), and a pair joins the fired set only after its transaction
committed. Engines share the partitions, and so the sellers; an engine fires only for
sellers of the partitions it owns. In the worker those are the partitions of
crm.customer-activity that the projection's group gives the process (`follow`): the
process that hears of a seller's carts, follows and orders fires for that seller.
Starting a partition's producer fences its previous owner and aborts its open
transaction, so the fold of the partition's firings that follows sees every firing that
will ever be committed there; a firing that was due but aborted is due still, and the
next look finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from pydantic import ValidationError

from schemas.plans import Plan
from schemas.segments import AutomatedPlanFired
from services.customers.definitions import SegmentDefinitions
from services.customers.domain.cutoff import instant_cutoff
from services.customers.domain.firing_segment import in_segment_at
from services.customers.domain.relationship import Relationship, from_stored_json
from services.customers.domain.trigger_timing import next_look
from services.customers.domain.triggers import due_at, firing_moment, should_fire
from services.customers.firing import metrics
from services.customers.firing.events import plan_fired
from services.customers.firing.fired import FiredPairs
from services.customers.firing.plans import LivePlan, LivePlans, PlanChange
from services.customers.firing.schedule import Schedule
from services.customers.firing.segments import SellerSegments, seller_segments
from services.customers.projection_observer import Applied
from services.customers.store import RedisCustomerStore
from services.shared import groups
from services.shared.clock import Clock
from services.shared.codec import DecodeError, decode, encode
from services.shared.consumer import Record
from services.shared.failure_policy import RetryPolicy, settle
from services.shared.kafka import admin_client, new_consumer
from services.shared.metrics import DEAD_LETTERS
from services.shared.partitioning import partition_of
from services.shared.settings import Settings
from services.shared.transactions import PartitionOutputs, TransactionalOutput, letter_for

log = structlog.get_logger(__name__)

Checkpoint = Callable[[str], None]
Watermark = Callable[[], Awaitable[datetime | None]]
"""Up to when the projection has applied every customer event (None: not known yet)."""

# What the engine reads (plan-events) and writes (plan-firings); both must exist.
TOPICS = ("crm.plan-events", "crm.plan-firings")
# Firings of one pass beyond this wait for the next pass (one transaction each).
MAX_FIRINGS_PER_TRANSACTION = 500
# A pair whose relationship is missing from the store (Redis lost it and the projection
# is rebuilding), or whose seller's market is not known yet, is looked at again this much
# later.
MISSING_RELATIONSHIP_RETRY = timedelta(seconds=30)
_JUST_AFTER = timedelta(microseconds=1)
SERVICE = "customers"


def _stored(*fields: str) -> tuple[bytes, ...]:
    for field in fields:
        assert field in Relationship.model_fields, field
    return tuple(f'"{field}"'.encode() for field in fields)


# The stored JSON leaves out fields at their defaults (to_stored_json), so a relationship
# without one of these keys holds nothing that can arm the trigger.
ANCHOR_FIELDS: dict[str, tuple[bytes, ...]] = {
    "cart_abandoned": _stored("last_cart_add_at"),
    "new_follower": _stored("followed_at"),
    "post_purchase": _stored("orders", "last_archived_order_at"),
    "win_back": _stored("orders", "last_archived_order_at"),
}


def firings_transactional_id(settings: Settings) -> str:
    return f"{settings.topic_prefix}crm-customers-firings"


class TriggerEngine:
    def __init__(
        self,
        settings: Settings,
        store: RedisCustomerStore,
        clock: Clock,
        checkpoint: Checkpoint = lambda _: None,
        *,
        watermark: Watermark | None = None,
        poll_seconds: float = 1.0,
        max_firings_per_transaction: int = MAX_FIRINGS_PER_TRANSACTION,
        definitions: SegmentDefinitions | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.definitions = definitions or store.definitions
        self.clock = clock
        self.checkpoint = checkpoint
        self.watermark = watermark
        self.poll_seconds = poll_seconds
        self.max_firings_per_transaction = max_firings_per_transaction
        self.plans = LivePlans()
        self.schedule = Schedule()
        self.fired = FiredPairs()
        self.passes = 0
        """Timer passes completed (tests wait on it after moving the clock)."""
        self._plans_loaded = False
        self._ready = False
        self._wakeup = asyncio.Event()
        self._firings_topic = settings.topic("crm.plan-firings")
        self._plan_events_topic = settings.topic("crm.plan-events")
        self._letters_topic = settings.topic("crm.dead-letters")
        self.policy = RetryPolicy.of(settings)
        # Engines scale out by partitions of a topic keyed by seller: a group membership
        # hands each engine some partitions, and an engine fires only for the sellers in
        # them, under a transactional id per partition. In the worker that membership is
        # the projection's (`follow`): the process that applies a seller's activity, and
        # so hears of its carts, follows and orders, is the one that fires for it. On
        # its own (tests) the engine joins a group of its own on crm.plan-firings. On
        # assignment, and after an aborted transaction, the firings of the owned
        # partitions are folded again, so none is fired twice.
        self._owner: AIOKafkaConsumer | None = None
        self._owned_topic = self._firings_topic
        self._outputs: PartitionOutputs | None = None
        self.owned: set[int] = set()
        """Partitions (of the owned topic, and so of crm.plan-firings) whose sellers this
        engine fires for."""
        self._partition_count = 0
        self._firings_reader: AIOKafkaConsumer | None = None
        self._started = asyncio.Event()
        """Set once the partition count is known: ownership changes wait for it."""

    @property
    def outputs(self) -> PartitionOutputs:
        assert self._outputs is not None, "run() or follow() first"
        return self._outputs

    def follow(self, consumer: AIOKafkaConsumer, topic: str) -> ConsumerRebalanceListener:
        """Fire for the sellers of the partitions of `topic` (keyed by seller, with as many
        partitions as crm.plan-firings) that `consumer`'s group assigns this process;
        returns the listener to subscribe `consumer` with."""
        self._owner = consumer
        self._owned_topic = self.settings.topic(topic)
        self._outputs = self._partition_outputs(consumer)
        return _Ownership(self, self._owned_topic)

    def _partition_outputs(self, consumer: AIOKafkaConsumer) -> PartitionOutputs:
        return PartitionOutputs(
            self.settings,
            firings_transactional_id(self.settings),
            name="firing",
            group_id=groups.customers_firing(self.settings),
            consumer=consumer,
            id_of=lambda tp: f"p{tp.partition}",
            rebuild=self._own,
            forget=self._disown,
            on_abort=metrics.TRANSACTIONS_ABORTED.inc,
            linger_ms=0,
        )

    @property
    def ready(self) -> bool:
        """Fired set and live plans loaded, every live plan's customers scanned."""
        return self._ready

    # --- the projection's hand-off ------------------------------------------------------

    async def observe(self, applied: Sequence[Applied]) -> None:
        """Arm the live plans of the sellers in a written batch. Before the plans are
        loaded there is nothing to arm: the start-up scan reads what was written."""
        if not self._plans_loaded:
            return
        now = self.clock()
        for item in applied:
            if not self._owns(item.seller_id):
                continue
            for plan in self.plans.of_seller(item.seller_id):
                if due_at(plan.trigger, item.relationship, item.event) is None:
                    continue  # the event does not arm this trigger (an order's cancelling
                    # of a cart reminder is found at the reminder's look)
                self._look_later(plan, item.customer_id, item.relationship, now)
        self._changed()

    # --- running ------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        on_its_own = self._owner is None
        if on_its_own:
            self._owner = new_consumer(
                self.settings,
                group_id=groups.customers_firing(self.settings),
                isolation_level="read_committed",
            )
            self._outputs = self._partition_outputs(self._owner)
        plan_reader = new_consumer(self.settings, isolation_level="read_committed")
        self._firings_reader = new_consumer(self.settings, isolation_level="read_committed")
        try:
            await self._firings_reader.start()
            await plan_reader.start()
            firings = await self._partitions(self._firings_topic, stopping)
            if not firings:
                return
            owned = await self._partitions(self._owned_topic, stopping)
            if len(owned) != len(firings):
                # A seller's partition must be the same number in both, or the owner of
                # its activity would fold and fence another partition's firings.
                raise RuntimeError(
                    f"{self._owned_topic} has {len(owned)} partitions and "
                    f"{self._firings_topic} {len(firings)}: they must be equal"
                )
            self._partition_count = len(firings)
            self._started.set()
            async with asyncio.TaskGroup() as tasks:
                if on_its_own:
                    # A partition's producer starts on assignment (fencing its previous
                    # owner and aborting what it left open), then its firings are folded.
                    assert self._owner is not None
                    await self._owner.start()
                    self._owner.subscribe([self._firings_topic], listener=self.outputs)
                    tasks.create_task(self._keep_membership(stopping))
                tasks.create_task(self._follow_plans(plan_reader, stopping))
                tasks.create_task(self._fire_when_due(stopping))
        finally:
            await plan_reader.stop()
            if on_its_own and self._owner is not None:
                await self._owner.stop()
            await self._firings_reader.stop()
            if self._outputs is not None:
                await self._outputs.stop()

    async def _keep_membership(self, stopping: asyncio.Event) -> None:
        """Poll the group consumer (its partitions paused: it only shares sellers out)."""
        assert self._owner is not None
        while not stopping.is_set():
            await self._owner.getmany(timeout_ms=500)

    def _owns(self, seller_id: str) -> bool:
        return (
            self._partition_count > 0
            and partition_of(seller_id, self._partition_count) in self.owned
        )

    async def _own(self, assigned: set[TopicPartition]) -> None:
        """Fold the committed firings of every owned partition, then fire for them."""
        started = time.perf_counter()
        if self._owned_topic == self._firings_topic:
            assert self._owner is not None
            self._owner.pause(*assigned)  # its own group: it only shares sellers out
        reader = self._firings_reader
        assert reader is not None
        partitions = {tp.partition for tp in self.outputs.assigned}
        tps = [TopicPartition(self._firings_topic, p) for p in sorted(partitions)]
        reader.assign(tps)
        if tps:
            await reader.seek_to_beginning(*tps)
            await self._catch_up_fired()
        new = partitions - self.owned
        self.owned = partitions
        log.info(
            "firings_loaded",
            partitions=sorted(partitions),
            fired=len(self.fired),
            seconds=round(time.perf_counter() - started, 3),
        )
        if self._plans_loaded:
            for seller in self.plans.sellers():
                if partition_of(seller, self._partition_count) in new:
                    await self._scan(seller, self.plans.of_seller(seller))

    async def _disown(self, revoked: set[TopicPartition]) -> None:
        self.owned -= {tp.partition for tp in revoked}

    async def _partitions(self, physical: str, stopping: asyncio.Event) -> list[TopicPartition]:
        """The topic's partitions, once it exists (`crm topics create` makes it)."""
        while not stopping.is_set():
            async with admin_client(self.settings) as client:
                if physical in await client.list_topics():
                    described = await client.describe_topics([physical])
                    return sorted(
                        TopicPartition(physical, p["partition"])
                        for t in described
                        for p in t["partitions"]
                    )
            log.warning("firing_topic_missing", topic=physical)
            await asyncio.sleep(self.poll_seconds)
        return []

    async def _catch_up_fired(self) -> None:
        """Fold crm.plan-firings from where the reader stands to its current end."""
        reader = self._firings_reader
        assert reader is not None
        partitions = list(reader.assignment())
        ends = await reader.end_offsets(partitions)
        remaining = {tp for tp in partitions if await reader.position(tp) < ends[tp]}
        while remaining:
            batch = await reader.getmany(*remaining, timeout_ms=500)
            for records in batch.values():
                for record in records:
                    self._fold_firing(record.value, record.offset)
            for tp in list(remaining):
                if await reader.position(tp) >= ends[tp]:
                    remaining.discard(tp)

    def _fold_firing(self, raw: bytes | None, offset: int) -> None:
        try:
            event = decode("crm.plan-firings", raw, max_bytes=self.settings.max_event_bytes)
        except DecodeError as exc:
            # Only this engine writes the topic: a bad record is a bug to look at.
            log.error("firing_unreadable", offset=offset, error=exc.reason)
            return
        assert isinstance(event, AutomatedPlanFired)
        self.fired.add(event.plan_id, event.customer_id)

    # --- plans --------------------------------------------------------------------------

    async def _follow_plans(self, reader: AIOKafkaConsumer, stopping: asyncio.Event) -> None:
        partitions = await self._partitions(self._plan_events_topic, stopping)
        if not partitions:
            return
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        ends = await reader.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining and not stopping.is_set():
            batch = await reader.getmany(*remaining, timeout_ms=500)
            for records in batch.values():
                for record in records:
                    await self._fold_plan_settled(record)
            for tp in list(remaining):
                if await reader.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        if stopping.is_set():
            return
        while not (self.outputs.assigned_once.is_set() or stopping.is_set()):
            # The group has not handed out the sellers yet.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outputs.assigned_once.wait(), self.poll_seconds)
        self._plans_loaded = True
        self.fired.keep_only(set(self.plans.plan_ids()))
        metrics.LIVE_PLANS.set(len(self.plans))
        for seller in self.plans.sellers():
            if self._owns(seller):
                await self._scan_guarded(seller, self.plans.of_seller(seller))
        self._ready = True
        log.info("firing_engine_ready", live_plans=len(self.plans), waiting=len(self.schedule))
        while not stopping.is_set():
            batch = await reader.getmany(timeout_ms=int(self.poll_seconds * 1000))
            started: dict[str, None] = {}
            stopped: set[str] = set()
            for records in batch.values():
                for record in records:
                    change, plan_id = await self._fold_plan_settled(record)
                    if change is PlanChange.STARTED:
                        started[plan_id] = None
                    elif change is PlanChange.STOPPED:
                        stopped.add(plan_id)
            if stopped:
                dropped = self.schedule.drop_plans(stopped)
                self.fired.forget(stopped)
                log.info("plans_stopped", plans=sorted(stopped), dropped=dropped)
            by_seller: dict[str, list[LivePlan]] = defaultdict(list)
            for plan_id in started:
                plan = self.plans.get(plan_id)
                if plan is not None:  # not stopped again later in the same batch
                    by_seller[plan.seller_id].append(plan)
            for seller_id, plans in by_seller.items():
                await self._scan_guarded(seller_id, plans)
            metrics.LIVE_PLANS.set(len(self.plans))

    def _fold_plan(self, raw: bytes | None, offset: int) -> tuple[PlanChange | None, str]:
        try:
            event = decode("crm.plan-events", raw, max_bytes=1 << 20)
        except DecodeError as exc:
            log.error("plan_event_unreadable", offset=offset, error=exc.reason)
            return None, ""
        plan: Plan = event.plan  # type: ignore[attr-defined]
        return self.plans.apply(plan), plan.plan_id

    async def _fold_plan_settled(self, record: Record) -> tuple[PlanChange | None, str]:
        """Fold one plan event under the shared failure policy: a record the fold keeps
        failing on is dead-lettered and skipped, and the engine goes on."""
        folded: list[tuple[PlanChange | None, str]] = []

        async def fold() -> None:
            folded.append(self._fold_plan(record.value, record.offset))

        reason = await settle(fold, self.policy)
        if reason is None:
            return folded[-1]
        await self._dead_letter(record, reason)
        return None, ""

    async def _dead_letter(self, record: Record, reason: str) -> None:
        """Written in a transaction of its own (the producer is transactional). The engine
        folds from the start on every start, so a record it fails on is dead-lettered again
        each time, under the same event_id (dead_letters.py), which readers de-duplicate."""
        DEAD_LETTERS.labels(SERVICE, self.settings.logical_topic(record.topic)).inc()
        letter = letter_for(record, reason, service=SERVICE)

        async def write() -> None:
            output = self.outputs.any_output()
            if output is None:  # owns no partition: an engine that does writes it
                return
            async with output.transaction() as producer:
                await (await producer.send(self._letters_topic, encode(letter)))

        if not await self.outputs.guarded(write):
            log.error("dead_letter_not_written", offset=record.offset)

    async def _scan_guarded(self, seller_id: str, plans: list[LivePlan]) -> None:
        """`_scan` under the one recovery policy: a scan that Redis cut short is redone
        once recovered (a pair already on the timetable keeps its earliest look)."""
        while not await self.outputs.guarded(lambda: self._scan(seller_id, plans)):
            log.info("plans_scan_redone", seller_id=seller_id)

    async def _scan(self, seller_id: str, plans: list[LivePlan]) -> None:
        """Put every customer of the seller who may fire these plans on the timetable."""
        started = time.perf_counter()
        customers = 0
        before = len(self.schedule)
        anchors = {field for plan in plans for field in ANCHOR_FIELDS[plan.trigger.type]}
        async for chunk in self.store.scan_raw(seller_id):
            now = self.clock()
            for customer_id, raw in chunk:
                if not any(field in raw for field in anchors):
                    continue  # nothing that arms these triggers: not worth decoding
                rel = _relationship(seller_id, customer_id, raw)
                if rel is None:
                    continue
                customers += 1
                for plan in plans:
                    self._look_later(plan, customer_id, rel, now)
            self._changed()
        seconds = time.perf_counter() - started
        metrics.SCAN_SECONDS.observe(seconds)
        log.info(
            "plans_scanned",
            seller_id=seller_id,
            plans=[p.plan_id for p in plans],
            customers=customers,
            scheduled=len(self.schedule) - before,
            seconds=round(seconds, 3),
        )

    def _look_later(
        self,
        plan: LivePlan,
        customer_id: str,
        rel: Relationship,
        now: datetime,
        after: datetime | None = None,
    ) -> None:
        """Put the pair on the timetable at its next look; `after`: only due moments later
        than it (one the customer was not in the segment at is decided)."""
        if (plan.plan_id, customer_id) in self.fired:
            return
        start, end = plan.window
        window = (start, end) if after is None else (max(start, after + _JUST_AFTER), end)
        try:
            at = next_look(plan.trigger, rel, now, window)
        except Exception:
            # One pair whose stored history the rules fail on must not stop the others:
            # it is left off the timetable (not a record, so nothing to dead-letter).
            log.exception("pair_not_scheduled", plan_id=plan.plan_id, customer_id=customer_id)
            return
        if at is not None:
            self.schedule.push(at, plan.plan_id, customer_id)

    def _changed(self) -> None:
        metrics.SCHEDULED_PAIRS.set(len(self.schedule))
        self._wakeup.set()

    # --- firing -------------------------------------------------------------------------

    async def _fire_when_due(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self._wakeup.clear()
            due: list[tuple[datetime, str, str]] = []
            # The whole pass, the watermark's read included, runs under the one recovery
            # policy (services/shared/transactions.py): Redis or Kafka away or too slow
            # anywhere in it is waited out, never raised out of the worker.
            if not await self.outputs.guarded(functools.partial(self._fire_due, due)):
                # The pairs are looked at again once recovered; the committed ones are in
                # `fired` (recovery folded them).
                for _, plan_id, customer_id in due:
                    self.schedule.push(self.clock(), plan_id, customer_id)
            self.passes += 1
            metrics.SCHEDULED_PAIRS.set(len(self.schedule))
            if len(due) == self.max_firings_per_transaction:
                await asyncio.sleep(0)  # more are due: straight on, letting others run
                continue
            await self._sleep()

    async def _fire_due(self, due: list[tuple[datetime, str, str]]) -> None:
        """One pass: the pairs due up to the horizon, taken off the timetable into `due`,
        and fired."""
        now = self.clock()
        horizon = await self._horizon(now)  # reads Redis (the projection's marker)
        if horizon is None:
            return
        due.extend(self.schedule.pop_due(horizon, self.max_firings_per_transaction))
        if due:
            await self._fire(due, now, horizon)

    async def _horizon(self, now: datetime) -> datetime | None:
        """The latest due moment that can be decided now: `now`, held back to how far the
        projection has applied events."""
        if self.watermark is None:
            return now
        applied = await self.watermark()
        if applied is None:
            return None
        metrics.PROJECTION_BEHIND.set(max(0.0, (now - applied).total_seconds()))
        return min(now, applied)

    async def _sleep(self) -> None:
        """Until the next pair is due, something new is scheduled, or the poll interval
        passes (a clock moved by a test, a projection catching up, are noticed within it)."""
        timeout = self.poll_seconds
        next_at = self.schedule.next_at()
        if next_at is not None:
            until = (next_at - self.clock()).total_seconds()
            if until > 0:  # one already due waits for the projection: the poll interval
                timeout = min(timeout, until)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)

    async def _fire(
        self, due: list[tuple[datetime, str, str]], now: datetime, horizon: datetime
    ) -> None:
        by_seller: dict[str, list[tuple[LivePlan, str]]] = defaultdict(list)
        for _, plan_id, customer_id in due:
            plan = self.plans.get(plan_id)
            if plan is None or (plan_id, customer_id) in self.fired:
                continue
            if self._owns(plan.seller_id):
                by_seller[plan.seller_id].append((plan, customer_id))
            # else: its seller moved to another engine, whose scan scheduled the pair
        firings: list[AutomatedPlanFired] = []
        for seller_id, pairs in by_seller.items():
            customers = sorted({c for _, c in pairs})
            rels = await self._relationships(seller_id, customers)
            segments = await seller_segments(
                self.store,
                self.definitions,
                seller_id,
                {plan.segment_id for plan, _ in pairs},
                customers,
            )
            if segments.market is None:
                # No calendar to judge segments by; it comes with the seller's first
                # metrics report or status (an active seller has both).
                log.warning("firing_market_unknown", seller_id=seller_id, pairs=len(pairs))
            for plan, customer_id in pairs:
                rel = rels.get(customer_id)
                try:
                    firing = self._decide(plan, customer_id, rel, segments, now, horizon)
                except Exception:
                    # As in _look_later: the pair is dropped, every other pair goes on.
                    log.exception("pair_not_decided", plan_id=plan.plan_id, customer_id=customer_id)
                    continue
                if firing is not None:
                    firings.append(firing)
        by_partition: dict[int, list[AutomatedPlanFired]] = defaultdict(list)
        for firing in firings:
            by_partition[partition_of(firing.seller_id, self._partition_count)].append(firing)
        for partition, batch in sorted(by_partition.items()):
            output = self.outputs.outputs.get(f"p{partition}")
            if output is not None:
                await self._commit(output, batch)

    def _decide(
        self,
        plan: LivePlan,
        customer_id: str,
        rel: Relationship | None,
        segments: SellerSegments,
        now: datetime,
        horizon: datetime,
    ) -> AutomatedPlanFired | None:
        """The firing of this pair, or None (then the pair waits for its next look).
        Decided as of `horizon`, which the store is complete up to; sent only before the
        plan's end; only to a member of the plan's segment at the due moment."""
        if self.plans.get(plan.plan_id) is None or (plan.plan_id, customer_id) in self.fired:
            return None  # stopped or fired while the relationships were read
        start, end = plan.window
        if not now < end:
            return None
        if rel is None:
            self.schedule.push(now + MISSING_RELATIONSHIP_RETRY, plan.plan_id, customer_id)
            return None
        if not should_fire(plan.trigger, rel, horizon, start, end, already_fired=False):
            self._look_later(plan, customer_id, rel, horizon)
            return None
        moment = firing_moment(plan.trigger, rel, horizon, start, end)
        assert moment is not None
        if segments.market is None:
            metrics.SEGMENT_JUDGEMENTS.labels("market_unknown").inc()
            self.schedule.push(now + MISSING_RELATIONSHIP_RETRY, plan.plan_id, customer_id)
            return None
        segment = segments.segments[plan.segment_id]
        cut = instant_cutoff(moment, segments.market)
        if in_segment_at(segment, rel, segments.profiles.get(customer_id), cut):
            metrics.SEGMENT_JUDGEMENTS.labels("member").inc()
            return plan_fired(plan, customer_id, moment, now)
        metrics.SEGMENT_JUDGEMENTS.labels("not_member").inc()
        log.debug(
            "firing_outside_segment",
            plan_id=plan.plan_id,
            customer_id=customer_id,
            segment_id=plan.segment_id,
            due_at=moment.isoformat(),
        )
        self._look_later(plan, customer_id, rel, horizon, after=moment)
        return None

    async def _commit(self, output: TransactionalOutput, firings: list[AutomatedPlanFired]) -> None:
        started = time.perf_counter()
        async with output.transaction() as producer:
            sent = [
                await producer.send(self._firings_topic, encode(f), key=f.seller_id.encode())
                for f in firings
            ]
            await asyncio.gather(*sent)
            # Test hook: the firings are in the log, not yet committed.
            self.checkpoint("after_firings_sent")
        for firing in firings:
            self.fired.add(firing.plan_id, firing.customer_id)
            metrics.FIRINGS.labels(firing.trigger.type).inc()
        log.info(
            "plans_fired",
            firings=len(firings),
            plans=len({f.plan_id for f in firings}),
            seconds=round(time.perf_counter() - started, 3),
        )

    async def _relationships(
        self, seller_id: str, customer_ids: list[str]
    ) -> dict[str, Relationship]:
        stored = await self.store.stored_relationships(seller_id, customer_ids)
        found: dict[str, Relationship] = {}
        for customer_id, raw in stored.items():
            rel = _relationship(seller_id, customer_id, raw)
            if rel is not None:
                found[customer_id] = rel
        return found


def _relationship(seller_id: str, customer_id: str, raw: bytes | str) -> Relationship | None:
    try:
        return from_stored_json(raw)
    except ValidationError as exc:
        # One unreadable pair must not stop the plans of every other customer.
        log.error(
            "relationship_unreadable",
            seller_id=seller_id,
            customer_id=customer_id,
            error=str(exc)[:300],
        )
        return None


class _Ownership(ConsumerRebalanceListener):  # type: ignore[misc]
    """The engine's share of the sellers follows another group's assignment of `topic`
    (the projection's): its partitions, and only they, become the engine's."""

    def __init__(self, engine: TriggerEngine, topic: str) -> None:
        self._engine = engine
        self._topic = topic

    def _of_topic(self, partitions: set[TopicPartition]) -> set[TopicPartition]:
        return {tp for tp in partitions if tp.topic == self._topic}

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._engine._started.wait()
        await self._engine.outputs.on_partitions_revoked(self._of_topic(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._engine._started.wait()
        await self._engine.outputs.on_partitions_assigned(self._of_topic(assigned))
