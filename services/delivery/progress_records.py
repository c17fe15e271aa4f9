"""The records a fan-out writes besides its messages, and the counters it moves."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar

from schemas.delivery import DeliveryProgressed
from schemas.plans import CompletePlan, Plan
from services.delivery import metrics
from services.delivery.domain.suppression import Outcome, Tally

# Ids derived from the plan: a completion sent twice is one command to the processor.
_COMPLETION_NAMESPACE = uuid.UUID("7d3c9e51-0a4f-4c2b-8e6d-2b1f5a9c7e30")
ACCOUNT = "delivery"

ProgressKey = tuple[str, int]  # (plan_id, shard)


@dataclass(frozen=True)
class Shard:
    """Which part of a plan's members a fan-out handles: shard `index` of `count` (by
    customer-id hash), as of the day its split pinned (None: the plan's own start)."""

    index: int
    count: int
    as_of: date | None = None

    WHOLE: ClassVar[Shard]


Shard.WHOLE = Shard(0, 1)


def tally_of(progress: DeliveryProgressed | None) -> Tally:
    if progress is None:
        return Tally()
    return Tally(recipients=progress.recipients, sent=progress.sent, suppressed=progress.suppressed)


def progress_record(
    plan: Plan,
    as_of: date | None,
    last: str | None,
    tally: Tally,
    *,
    done: bool,
    at: datetime,
    shard: Shard = Shard.WHOLE,
) -> DeliveryProgressed:
    return DeliveryProgressed(
        event_id=uuid.uuid4(),
        occurred_at=at,
        seller_id=plan.seller_id,
        plan_id=plan.plan_id,
        plan_type=plan.type,
        segment_id=plan.segment_id,
        as_of=as_of,
        last_customer_id=last,
        recipients=tally.recipients,
        sent=tally.sent,
        suppressed=dict(tally.suppressed),
        done=done,
        shard=shard.index,
        shard_count=shard.count,
    )


def completion(plan: Plan, done: DeliveryProgressed, at: datetime) -> CompletePlan:
    name = plan.plan_id if done.shard_count == 1 else f"{plan.plan_id}/{done.shard}"
    correlation = uuid.uuid5(_COMPLETION_NAMESPACE, name)
    return CompletePlan(
        event_id=correlation,
        occurred_at=at,
        correlation_id=correlation,
        seller_id=plan.seller_id,
        account_id=ACCOUNT,
        plan_id=plan.plan_id,
        recipients=done.recipients,
        sent=done.sent,
        suppressed={str(k): v for k, v in done.suppressed.items()},
        shard=done.shard,
        shard_count=done.shard_count,
    )


def count(plan: Plan, outcomes: list[Outcome]) -> None:
    for outcome, n in Counter(outcomes).items():
        if outcome == "sent":
            metrics.SENT.labels(plan.type).inc(n)
        else:
            metrics.SUPPRESSED.labels(plan.type, outcome).inc(n)
