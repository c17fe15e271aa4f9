"""Representative events for benchmarks: the mix an ingest worker sees, made up."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator

_MARKETS = ("TH", "ID", "MY", "VN", "PH", "SG", "US", "GB")


def _envelope(rng: random.Random, event_type: str, day: int) -> dict[str, object]:
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": f"2024-06-{day:02d}T10:00:00+07:00",
    }


def events(count: int, *, sellers: int = 1000, seed: int = 7) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs: mostly engagement, some metrics, blocks and orders."""
    rng = random.Random(seed)
    for i in range(count):
        seller = f"seller-{rng.randrange(sellers):05d}"
        customer = f"cust-{rng.randrange(1_000_000):07d}"
        day = 1 + i % 28
        message = {"message_id": f"m-{i:09d}", "plan_id": f"plan-{i % 997}"}
        kind = rng.random()
        body: dict[str, object]
        if kind < 0.45:
            body = {
                **_envelope(rng, "MessageDelivered", day),
                **message,
                "seller_id": seller,
                "customer_id": customer,
                "delivered_at": f"2024-06-{day:02d}T10:00:02+07:00",
            }
        elif kind < 0.80:
            body = {
                **_envelope(rng, "MessageRead", day),
                **message,
                "seller_id": seller,
                "customer_id": customer,
                "read_at": f"2024-06-{day:02d}T10:29:58+07:00",
            }
        elif kind < 0.85:
            body = {
                **_envelope(rng, "ShopBlocked", day),
                "seller_id": seller,
                "customer_id": customer,
                "message_id": message["message_id"],
            }
        elif kind < 0.95:
            body = {
                **_envelope(rng, "SellerMetricsReported", day),
                "seller_id": seller,
                "market": _MARKETS[hash(seller) % len(_MARKETS)],
                "metrics_date": f"2024-06-{day:02d}",
                "chats_received": 120,
                "chats_responded_12h": 111,
                "ses": 4.2,
                "violation_points": 2,
                "extra": {},
            }
        else:
            body = {
                **_envelope(rng, "OrderPlaced", day),
                "seller_id": seller,
                "customer_id": customer,
                "order_id": f"o-{i}",
                "gmv": 499.0,
                "currency": "THB",
                "product_ids": ["p-100", "p-101"],
                "coupon_ids": [],
            }
        yield seller.encode(), json.dumps(body, separators=(",", ":")).encode()
