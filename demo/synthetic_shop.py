"""A synthetic shop's customer history, as the upstream teams would publish it: every
built-in segment gets members, and profiles spread over Java and elsewhere, so the demo
and tests have something realistic to segment. Deterministic for a given seller and seed."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from schemas.customer import (
    CartAdded,
    ChatStarted,
    CustomerProfileUpdated,
    OrderPlaced,
    ProductViewed,
    ShopFollowed,
)
from schemas.envelope import Event

JAVA = ("JK", "JB", "JT", "JI", "YO", "BT")
ELSEWHERE = ("SU", "BA", "KS", "SN")
LANGUAGES = ("id", "id", "id", "en")

# Share of customers per kind of history (the rest only viewed long ago).
KINDS = (
    ("new_buyer", 0.10),
    ("repeat_buyer", 0.12),
    ("lapsed_buyer", 0.12),
    ("follower", 0.20),
    ("cart_abandoner", 0.12),
    ("visitor", 0.24),
)


def _ids(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def synthetic_shop(
    seller_id: str, customers: int, now: datetime, *, seed: int = 7, prefix: str = "cust"
) -> Iterator[tuple[str, Event]]:
    """(topic, event) for `customers` customers of `seller_id`, every event at least a
    day before `now` so the memberships "as of today" see them all.

    The seller is part of the seed: two shops must not share event ids, or consumers,
    which de-duplicate on event_id, would refuse the second shop as conflicting
    duplicates of the first (two demo chapters once each built a shop with seed 7)."""
    rng = random.Random(f"{seed}/{seller_id}")
    day = timedelta(days=1)

    def at(days_ago_low: float, days_ago_high: float) -> datetime:
        return now - day * rng.uniform(days_ago_low, days_ago_high)

    for n in range(customers):
        customer = f"{prefix}-{n:06d}"

        base: dict[str, Any] = {"seller_id": seller_id, "customer_id": customer}

        roll, kind = rng.random(), "old_visitor"
        for name, share in KINDS:
            if roll < share:
                kind = name
                break
            roll -= share
        region = rng.choice(JAVA) if rng.random() < 0.6 else rng.choice(ELSEWHERE)
        yield (
            "crm.customer-profiles",
            CustomerProfileUpdated(
                event_id=_ids(rng),
                occurred_at=at(200, 400),
                customer_id=customer,
                region=region,
                city=None,
                gender=rng.choice(("f", "m", None)),
                age_band=rng.choice(("18-24", "25-34", "35-44", "45+")),
                language=rng.choice(LANGUAGES),
            ),
        )
        follows = kind == "follower" or rng.random() < 0.3
        if follows:
            yield (
                "crm.customer-activity",
                ShopFollowed(event_id=_ids(rng), occurred_at=at(2, 300), **base),
            )
        orders: list[datetime] = []
        if kind == "new_buyer":
            orders = [at(1, 29)]
        elif kind == "repeat_buyer":
            orders = [at(1, 170) for _ in range(rng.randint(2, 8))]
        elif kind == "lapsed_buyer":
            orders = [at(92, 500) for _ in range(rng.randint(1, 3))]
        for index, placed in enumerate(sorted(orders)):
            yield (
                "crm.customer-activity",
                OrderPlaced(
                    event_id=_ids(rng),
                    occurred_at=placed,
                    order_id=f"{customer}-o{index}",
                    gmv=round(rng.lognormvariate(5, 1), 2),
                    currency="IDR",
                    product_ids=[f"p{rng.randint(1, 40)}"],
                    **base,
                ),
            )
        if kind == "cart_abandoner":
            yield (
                "crm.customer-activity",
                CartAdded(event_id=_ids(rng), occurred_at=at(1, 6), product_id="p3", **base),
            )
        if kind in ("visitor", "cart_abandoner", "follower") or rng.random() < 0.2:
            yield (
                "crm.customer-activity",
                ProductViewed(event_id=_ids(rng), occurred_at=at(1, 60), product_id="p1", **base),
            )
        if kind == "visitor" and rng.random() < 0.3:
            yield (
                "crm.customer-activity",
                ChatStarted(event_id=_ids(rng), occurred_at=at(1, 25), **base),
            )
        if kind == "old_visitor":
            yield (
                "crm.customer-activity",
                ProductViewed(event_id=_ids(rng), occurred_at=at(40, 200), product_id="p2", **base),
            )
