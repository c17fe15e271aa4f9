"""A synthetic marketplace for the eligibility integration test: a few hundred sellers
over two months, with corrections, redeliveries and engagement near the boundaries."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

MONTHS = ["2024-07", "2024-08"]
WINDOW_DAYS = {
    "2024-07": (date(2024, 5, 22), date(2024, 6, 21)),  # first and last day
    "2024-08": (date(2024, 6, 22), date(2024, 7, 21)),
}
PROFILES = [
    "good",
    "good",
    "good",
    "bad_response",
    "low_ses",
    "violations",
    "no_data",
    "no_ses",
    "no_chats",
]


@dataclass
class Seller:
    seller_id: str
    market: str
    metrics: list[dict[str, Any]] = field(default_factory=list)
    engagement: list[dict[str, Any]] = field(default_factory=list)


def _envelope(rng: random.Random, event_type: str, at: datetime) -> dict[str, Any]:
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": at.isoformat(),
    }


def _report(
    rng: random.Random, seller: Seller, day: date, profile: str, at: datetime
) -> dict[str, Any]:
    received = 0 if profile == "no_chats" else rng.randint(20, 200)
    ratio = rng.uniform(0.70, 0.84) if profile == "bad_response" else rng.uniform(0.85, 1.0)
    return {
        **_envelope(rng, "SellerMetricsReported", at),
        "seller_id": seller.seller_id,
        "market": seller.market,
        "metrics_date": day.isoformat(),
        "chats_received": received,
        "chats_responded_12h": min(received, round(received * ratio + 0.5)),
        "ses": None
        if profile == "no_ses"
        else (3.49 if profile == "low_ses" else rng.choice([3.5, 4.0, 4.8])),
        "violation_points": 12 if profile == "violations" else rng.randint(0, 11),
        "extra": {},
    }


def _metrics(rng: random.Random, seller: Seller, month: str) -> None:
    profile = rng.choice(PROFILES)
    if profile == "no_data":
        return
    first, last = WINDOW_DAYS[month]
    days = {first, last} | {first + timedelta(rng.randrange((last - first).days)) for _ in range(2)}
    for day in sorted(days):
        at = datetime.combine(day + timedelta(1), datetime.min.time(), tzinfo=UTC)
        event = _report(rng, seller, day, profile, at)
        seller.metrics.append(event)
        if rng.random() < 0.25:  # redelivered as is
            seller.metrics.append(dict(event))
        if rng.random() < 0.2:  # corrected later, possibly to another profile
            seller.metrics.append(
                _report(rng, seller, day, rng.choice(PROFILES[:6]), at + timedelta(days=5))
            )


def _engagement(rng: random.Random, seller: Seller, month: str) -> None:
    first, last = WINDOW_DAYS[month]
    delivered = rng.randint(60, 260)
    read_share, block_share = rng.uniform(0.05, 0.6), rng.choice([0.0, 0.004, 0.012, 0.04])
    for n in range(delivered):
        message = f"{seller.seller_id}-{month}-m{n}"
        base = {
            "message_id": message,
            "plan_id": f"plan-{month}",
            "seller_id": seller.seller_id,
            "customer_id": f"c{n}",
        }
        day = first + timedelta(rng.randrange((last - first).days + 1))
        at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(
            hours=rng.randrange(24)
        )
        seller.engagement.append(
            {**_envelope(rng, "MessageDelivered", at), **base, "delivered_at": at.isoformat()}
        )
        if rng.random() < read_share:
            read_at = at + timedelta(hours=1)
            # Near the window edge the seller's time zone decides the window.
            if n % 17 == 0:
                read_at = (
                    datetime(2024, 6, 22, 5, 0, tzinfo=UTC)
                    if month == "2024-07"
                    else datetime(2024, 7, 22, 3, 0, tzinfo=UTC)
                )
            read = {
                **_envelope(rng, "MessageRead", read_at),
                **base,
                "read_at": read_at.isoformat(),
            }
            seller.engagement.append(read)
            if rng.random() < 0.3:  # read again: still one read
                again = read_at + timedelta(minutes=10)
                seller.engagement.append(
                    {**_envelope(rng, "MessageRead", again), **base, "read_at": again.isoformat()}
                )
        if rng.random() < block_share:
            seller.engagement.append(
                {
                    **_envelope(rng, "ShopBlocked", at + timedelta(hours=2)),
                    "seller_id": seller.seller_id,
                    "customer_id": f"c{n}",
                    "message_id": message,
                }
            )


def marketplace(sellers: int, seed: int = 11) -> list[Seller]:
    rng = random.Random(seed)
    out = []
    for n in range(sellers):
        seller = Seller(f"seller-{n:04d}", rng.choice(["TH", "US"]))
        for month in MONTHS:
            _metrics(rng, seller, month)
            if rng.random() < 0.35:
                _engagement(rng, seller, month)
        if not seller.metrics:  # every seller is known to the engine
            seller.metrics.append(
                _report(
                    rng,
                    seller,
                    WINDOW_DAYS["2024-08"][0],
                    "no_ses",
                    datetime(2024, 6, 23, tzinfo=UTC),
                )
            )
        out.append(seller)
    return out


def tick(market: str, month: str, at: datetime) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "EvaluationDue",
        "schema_version": 1,
        "occurred_at": at.isoformat(),
        "market": market,
        "effective_month": month,
    }
