"""What other services may use of customers: the one module they import from it.

`CustomerStore` is the customers projection as delivery and outreach read and write it:
relationships, profiles, sellers' markets, the daily segment memberships (`as_of`, members,
sizes) and the custom segment definitions. Two implementations follow the same rules
(tests/customer_store_contract.py runs against both): RedisCustomerStore (store.py; get
one with `customer_store(settings, redis)` over a client you own, or
`open_customer_store(settings)`), and InMemoryCustomerStore (fake.py) for unit tests.
Customers' Redis key layout is private to customers.

Beside the port: the pure pieces outreach needs to validate, preview and describe a custom
segment; `customers_guard` (delivery waits for the projection to be whole) and
`PROJECTION_TOPICS` (what the projection reads); `recompute_seller` (the operator's
`crm segments recompute` of one seller); `mark_whole` (a test or bench writing the store
directly stands in for the customers worker); `customers_redis` (a bytes client).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date
from typing import Protocol

import redis.asyncio as aioredis

from services.customers.definitions import SegmentDefinition as SegmentDefinition
from services.customers.definitions import SegmentEvent as SegmentEvent
from services.customers.domain.condition_fields import FIELD_KINDS as FIELD_KINDS
from services.customers.domain.condition_fields import OPS as OPS
from services.customers.domain.conditions import Condition as Condition
from services.customers.domain.conditions import validate_conditions as validate_conditions
from services.customers.domain.conditions import warnings as warnings
from services.customers.domain.cutoff import Cutoff as Cutoff
from services.customers.domain.cutoff import cutoff as cutoff
from services.customers.domain.profile import MessageProfile as MessageProfile
from services.customers.domain.profile import Profile as Profile
from services.customers.domain.recompute_days import local_today as local_today
from services.customers.domain.relationship import Relationship as Relationship
from services.customers.domain.segments import BUILTIN_SEGMENT_IDS as BUILTIN_SEGMENT_IDS
from services.customers.domain.segments import SegmentId as SegmentId
from services.customers.fake import InMemoryCustomerStore as InMemoryCustomerStore
from services.customers.healing import customers_guard as customers_guard
from services.customers.healing import mark_whole as mark_whole
from services.customers.projection import TOPICS
from services.customers.recompute import SellerRecomputed as SellerRecomputed
from services.customers.recompute import recompute_seller as recompute_seller
from services.customers.segment_writes import SEGMENTS_TOPIC as SEGMENTS_TOPIC
from services.customers.segment_writes import define_segment as define_segment
from services.customers.segment_writes import delete_segment as delete_segment
from services.customers.store import SCAN_PAGE as SCAN_PAGE
from services.customers.store import customer_store as _redis_customer_store
from services.customers.store import customers_redis as customers_redis
from services.shared.settings import Settings

PROJECTION_TOPICS = TOPICS
"""What the customers projection reads."""


class CustomerStore(Protocol):
    # relationships: what a seller's customers did (the projection writes them)

    async def load_relationships(
        self, seller_id: str, customer_ids: Sequence[str]
    ) -> dict[str, Relationship]:
        """The stored relationships of these customers (absent ones are left out)."""
        ...

    async def save_relationships(self, changed: Mapping[str, Mapping[str, Relationship]]) -> None:
        """Write seller → customer → relationship."""
        ...

    def relationships(
        self, seller_id: str, page: int = SCAN_PAGE
    ) -> AsyncIterator[list[tuple[str, Relationship]]]:
        """The seller's relationships, one page at a time, in no particular order."""
        ...

    async def customer_count(self, seller_id: str) -> int:
        """How many customers the seller has a relationship with."""
        ...

    # profiles: one per customer, shared by sellers

    async def profiles(self, customer_ids: Sequence[str]) -> dict[str, Profile]: ...

    async def save_profiles(self, profiles: Mapping[str, Profile]) -> None: ...

    async def message_profiles(self, customer_ids: Sequence[str]) -> dict[str, MessageProfile]:
        """Each customer's language and name, as a message needs them; customers without
        a (readable) profile are left out."""
        ...

    # markets: each seller's, from its metrics reports and statuses

    async def set_markets(self, markets: Mapping[str, str]) -> None: ...

    async def market(self, seller_id: str) -> str | None: ...

    async def markets_of(self, seller_ids: Sequence[str]) -> dict[str, str | None]:
        """Each seller's market, None when not known yet."""
        ...

    # segment memberships, as of a market-local day

    async def write_memberships(
        self,
        seller_id: str,
        as_of: date,
        members: Mapping[str, Iterable[str]],
        high_value_threshold: float | None = None,
    ) -> dict[str, int]:
        """Store every segment's members as of `as_of`, then make it the latest day unless
        a later one is there already. A segment left out has no members that day. Returns
        the sizes."""
        ...

    async def latest_as_of(self, seller_id: str) -> date | None:
        """The day of the latest complete recompute (None: never computed)."""
        ...

    async def has_day(self, seller_id: str, as_of: date) -> bool:
        """Are the seller's memberships as of `as_of` (still) there?"""
        ...

    async def sizes(self, seller_id: str) -> tuple[date | None, dict[str, int]]:
        """Every segment's member count as of the latest complete recompute."""
        ...

    def members(
        self, seller_id: str, segment_id: str, as_of: date | None = None
    ) -> AsyncIterator[list[str]]:
        """The segment's members as of `as_of` (default: the latest day), in pages, in id
        order, each once."""
        ...

    async def high_value_threshold(self, seller_id: str) -> float | None:
        """The spend high_value_customers members exceeded, as of the latest day."""
        ...

    async def count_matching(
        self, seller_id: str, conditions: Sequence[Condition], cut: Cutoff
    ) -> int:
        """How many of the seller's customers meet every condition as of the cut-off (a
        custom segment's preview, by the recompute's rule)."""
        ...

    # custom segment definitions, versioned by their crm.segments offset

    async def apply_segment_event(self, event: SegmentEvent, offset: int) -> bool:
        """Record a definition or deletion unless a later record of that segment is
        there already; whether it was recorded."""
        ...

    async def segment(self, seller_id: str, segment_id: str) -> SegmentDefinition | None:
        """The live definition, or None when unknown or deleted."""
        ...

    async def segment_known(self, seller_id: str, segment_id: str) -> bool:
        """Whether the seller ever used this id (deleted ids are not reused)."""
        ...

    async def live_segments(self, seller_id: str) -> list[SegmentDefinition]:
        """The seller's live custom segments, oldest first."""
        ...


def customer_store(settings: Settings, redis: aioredis.Redis) -> CustomerStore:
    """The Redis implementation over a client the caller owns (bytes or decoded)."""
    return _redis_customer_store(settings, redis)


@asynccontextmanager
async def open_customer_store(settings: Settings) -> AsyncIterator[CustomerStore]:
    """The Redis implementation over a client of its own, closed on exit."""
    redis = customers_redis(settings)
    try:
        yield _redis_customer_store(settings, redis)
    finally:
        await redis.aclose()
