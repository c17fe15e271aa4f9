"""The customer topics → the customers store, one batch at a time.

- crm.customer-activity, crm.outbound-messages, crm.chat-engagement (read, clicked) fold
  into the (seller, customer) Relationship;
- crm.customer-profiles into the customer's Profile;
- crm.seller-status and crm.seller-metrics give each seller's market (the calendar of its
  segments): a seller's first metrics report names it, so a shop that joined mid-month has
  a calendar before its first monthly status;
- crm.segments into the custom segment definitions.

A batch's events are collected by `handle` and written by `flush` in a few round trips:
one HMGET of the pairs it touches, the fold, one pipelined HSET. Folding is idempotent and
order-independent (see domain.relationship), so a redelivered batch after a crash changes
nothing and plain at-least-once consumption is exact.

Several processes share the topics' partitions (one consumer group). A pair's events come
on topics keyed differently (crm.customer-activity by seller, crm.outbound-messages by
customer), so two processes may fold the same pair at once: each write is conditional on
the pair being still as it was read (store.save_unless_changed), and a pair written in
between is read and folded again, so no update is lost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import cast, get_args

import structlog

from schemas.customer import CustomerProfileUpdated
from schemas.engagement import MessageDelivered, MessageFailed
from schemas.envelope import Event
from schemas.segments import SegmentDefined, SegmentDeleted
from schemas.seller import SellerMetricsReported, SellerStatusChanged
from services.customers.definitions import SegmentDefinitions
from services.customers.domain.profile import evolve_profile
from services.customers.domain.relationship import (
    EMPTY,
    Relationship,
    RelationshipEvent,
    evolve,
    from_stored_json,
)
from services.customers.projection_observer import Applied, Observer
from services.customers.store import RedisCustomerStore
from services.shared.consumer import Record, Rejected

log = structlog.get_logger(__name__)

TOPICS = (
    "crm.customer-activity",
    "crm.customer-profiles",
    "crm.outbound-messages",
    "crm.chat-engagement",
    "crm.seller-status",
    "crm.seller-metrics",
    "crm.segments",
)

Pair = tuple[str, str]
_Handler = Callable[[Event, Record | None, int | None], Awaitable[None]]


@dataclass
class _Batch:
    pairs: dict[Pair, list[RelationshipEvent]] = field(default_factory=lambda: defaultdict(list))
    profiles: dict[str, list[CustomerProfileUpdated]] = field(
        default_factory=lambda: defaultdict(list)
    )
    markets: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.pairs or self.profiles or self.markets)


class CustomerProjection:
    def __init__(
        self,
        store: RedisCustomerStore,
        definitions: SegmentDefinitions,
        observer: Observer | None = None,
    ) -> None:
        self.store = store
        self.definitions = definitions
        self.observer = observer
        self._batch = _Batch()
        self.handlers = self._handlers_by_type()

    async def handle(self, event: Event, record: Record | None, offset: int | None = None) -> None:
        """Collect one event of the batch (segment definitions are written at once: they
        are few, and versioned by offset)."""
        handler = self.handlers.get(type(event))
        if handler is None:
            raise Rejected(f"{event.event_type} is not a customer event")
        await handler(event, record, offset)

    def _handlers_by_type(self) -> dict[type[Event], _Handler]:
        handlers: dict[type[Event], _Handler] = {
            # Delivery facts: the Delivery issue's performance figures.
            MessageDelivered: self._ignore,
            MessageFailed: self._ignore,
            CustomerProfileUpdated: self._profile,
            # A seller belongs to one market (SPEC section 2): either event names it.
            SellerStatusChanged: self._market,
            SellerMetricsReported: self._market,
            SegmentDefined: self._define,
            SegmentDeleted: self._define,
        }
        for event_type in get_args(RelationshipEvent):
            handlers[event_type] = self._pair
        return handlers

    async def _ignore(self, event: Event, record: Record | None, offset: int | None) -> None:
        return None

    async def _profile(self, event: Event, record: Record | None, offset: int | None) -> None:
        assert isinstance(event, CustomerProfileUpdated)
        self._batch.profiles[event.customer_id].append(event)

    async def _market(self, event: Event, record: Record | None, offset: int | None) -> None:
        assert isinstance(event, SellerStatusChanged | SellerMetricsReported)
        self._batch.markets[event.seller_id] = event.market

    async def _pair(self, event: Event, record: Record | None, offset: int | None) -> None:
        pair = cast(RelationshipEvent, event)
        self._batch.pairs[(pair.seller_id, pair.customer_id)].append(pair)

    async def _define(self, event: Event, record: Record | None, offset: int | None) -> None:
        assert isinstance(event, SegmentDefined | SegmentDeleted)
        if record is not None:
            key = record.key.decode(errors="replace") if record.key is not None else None
            if key != event.seller_id:
                # Offsets order a seller's definitions only within its partition.
                raise Rejected(f"key: must be the seller_id {event.seller_id!r}, got {key!r}")
            offset = record.offset
        if offset is None:
            raise ValueError("a segment definition is versioned by its record's offset")
        await self.definitions.apply(event, offset)

    async def flush(self) -> None:
        """Write the collected batch and hand the folded pairs to the observer."""
        batch, self._batch = self._batch, _Batch()
        if not batch:
            return
        applied = await self._fold_pairs(batch.pairs)
        await self._fold_profiles(batch.profiles)
        await self.store.set_markets(batch.markets)
        if applied and self.observer is not None:
            await self.observer(applied)

    async def _fold_pairs(self, pairs: dict[Pair, list[RelationshipEvent]]) -> list[Applied]:
        """Fold the batch's events into the stored pairs. A pair another process wrote
        between the read and the write (its events came on a topic keyed differently, so
        another process may own them) is not written over: it is read and folded again."""
        applied: list[Applied] = []
        pending = pairs
        while pending:
            by_seller: dict[str, list[str]] = defaultdict(list)
            for seller_id, customer_id in pending:
                by_seller[seller_id].append(customer_id)
            read = await self.store.read_relationships(by_seller)
            changed: dict[str, dict[str, Relationship]] = {}
            for seller_id, customers in by_seller.items():
                stored = read.get(seller_id, {})
                for customer_id in customers:
                    raw = stored.get(customer_id)
                    rel = EMPTY if raw is None else from_stored_json(raw)
                    for event in pending[(seller_id, customer_id)]:
                        rel = evolve(rel, event)
                    changed.setdefault(seller_id, {})[customer_id] = rel
            stale = await self.store.save_unless_changed(read, changed)
            for seller_id, rels in changed.items():
                lost = set(stale.get(seller_id, ()))
                for customer_id, rel in rels.items():
                    if customer_id not in lost:
                        events = pending[(seller_id, customer_id)]
                        applied += [Applied(seller_id, customer_id, e, rel) for e in events]
            pending = {(s, c): pending[(s, c)] for s, customers in stale.items() for c in customers}
            if pending:
                log.info("relationships_folded_again", pairs=len(pending))
        return applied

    async def _fold_profiles(self, profiles: dict[str, list[CustomerProfileUpdated]]) -> None:
        if not profiles:
            return
        customers = list(profiles)
        stored = await self.store.profiles(customers)
        updated = {}
        for customer_id in customers:
            profile = stored.get(customer_id)
            for event in profiles[customer_id]:
                profile = evolve_profile(profile, event)
            if profile is not None:
                updated[customer_id] = profile
        await self.store.save_profiles(updated)

    async def apply(self, events: Iterable[tuple[int, Event]]) -> None:
        """Fold (offset, event) pairs read outside the consumer (a replay) as one batch."""
        for offset, event in events:
            await self.handle(event, None, offset)
        await self.flush()
