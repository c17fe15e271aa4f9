"""Synthetic customers in bulk for the segment benchmarks: relationships folded by the
domain from a realistic mix of events, stored with pipelining as the projection stores
them. (`synthetic.py` makes one shop's events for the demo and the tests.)

The mix, per seller: 35% viewers, 20% followers (some also viewed), 10% cart adders,
35% buyers with 1-20 orders over the last two years (some follow, some viewed lately).
Folding a million histories would take longer than the recompute being measured, so a
pool of distinct relationships is folded once and dealt out to (seller, customer) pairs
at random; the pool is large next to a seller, so a shop's customers rarely repeat.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TypeVar

from schemas.customer import (
    CartAdded,
    ChatStarted,
    CustomerProfileUpdated,
    OrderPlaced,
    ProductViewed,
    ShopFollowed,
)
from schemas.envelope import Event
from services.customers.domain.profile import Profile, profile_from
from services.customers.domain.relationship import (
    RelationshipEvent,
    fold,
    to_stored_json,
)
from services.customers.store import RedisCustomerStore

POOL_SIZE = 20_000
TWO_YEARS_DAYS = 730
JAVA = ("JK", "JB", "JT", "JI", "YO", "BT")
OTHER_REGIONS = ("SU", "SS", "KT", "BA", "SN", "PA")
WRITE_BATCH = 5_000


E = TypeVar("E", bound=Event)


def _event(kind: type[E], at: datetime, **fields: object) -> E:
    # seller and customer are placeholders: a folded relationship does not keep them.
    base = {"event_id": uuid.uuid4(), "occurred_at": at, "seller_id": "s", "customer_id": "c"}
    return kind.model_validate({**base, **fields})


def history(rng: random.Random, now: datetime) -> list[RelationshipEvent]:
    """One customer's events with one shop, all before `now`."""

    def ago(days: float) -> datetime:
        return now - timedelta(seconds=rng.uniform(60, days * 86_400))

    def product() -> str:
        return f"p{rng.randint(1, 40)}"

    def viewed(days: float) -> ProductViewed:
        return _event(ProductViewed, ago(days), product_id=product())

    def followed() -> ShopFollowed:
        return _event(ShopFollowed, ago(TWO_YEARS_DAYS))

    kind = rng.random()
    if kind < 0.35:
        return [viewed(120)]
    if kind < 0.55:
        return [followed(), viewed(60)] if rng.random() < 0.5 else [followed()]
    if kind < 0.65:
        events: list[RelationshipEvent] = [
            viewed(20),
            _event(CartAdded, ago(20), product_id=product()),
        ]
        if rng.random() < 0.3:
            events.append(_event(ChatStarted, ago(20)))
        return events
    # A buyer's first order is anywhere in the last two years; the others follow it.
    tenure_days = rng.uniform(1, TWO_YEARS_DAYS)
    events = [
        _event(
            OrderPlaced,
            now - timedelta(days=tenure_days) if n == 0 else ago(tenure_days),
            order_id=f"o{n}",
            gmv=round(rng.uniform(2, 400), 2),
            currency="IDR",
            product_ids=[product() for _ in range(rng.randint(1, 3))],
        )
        for n in range(rng.randint(1, 20))
    ]
    if rng.random() < 0.4:
        events.append(followed())
    if rng.random() < 0.5:
        events.append(viewed(90))
    return events


def relationship_pool(rng: random.Random, now: datetime, size: int = POOL_SIZE) -> list[bytes]:
    """`size` distinct stored relationships (to_stored_json), folded by the domain."""
    return [to_stored_json(fold(history(rng, now))) for _ in range(size)]


def profile(rng: random.Random, customer_id: str, now: datetime) -> Profile:
    region = rng.choice(JAVA) if rng.random() < 0.55 else rng.choice(OTHER_REGIONS)
    event = CustomerProfileUpdated(
        event_id=uuid.uuid4(),
        occurred_at=now - timedelta(days=rng.randint(1, 300)),
        customer_id=customer_id,
        region=region,
        city=None,
        gender=rng.choice(("f", "m", None)),
        age_band=rng.choice(("18-24", "25-34", "35-44", "45+")),
        language=rng.choice(("id", "en")),
    )
    return profile_from(event)


def dealt(
    rng: random.Random, pool: list[bytes], sellers: list[str], per_seller: int, prefix: str
) -> Iterator[tuple[str, str, bytes]]:
    """(seller, customer, stored relationship) for every pair."""
    for seller in sellers:
        for n in range(per_seller):
            yield seller, f"{prefix}c{n}", rng.choice(pool)


async def write_pairs(store: RedisCustomerStore, pairs: Iterator[tuple[str, str, bytes]]) -> int:
    """HSET the pairs into the sellers' relationship hashes, pipelined in batches."""
    written = 0
    batch: dict[str, dict[str, bytes]] = {}
    pending = 0

    async def flush() -> None:
        pipe = store.redis.pipeline(transaction=False)
        for seller, rels in batch.items():
            pipe.hset(store.rel_key(seller), mapping=rels)  # type: ignore[arg-type]
        pipe.sadd(store.sellers_key, *batch)
        await pipe.execute()

    for seller, customer, raw in pairs:
        batch.setdefault(seller, {})[customer] = raw
        pending += 1
        if pending >= WRITE_BATCH:
            await flush()
            written += pending
            batch, pending = {}, 0
    if batch:
        await flush()
        written += pending
    return written
