"""The records a fan-out writes besides its messages, and the counters it moves."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime

from schemas.delivery import DeliveryProgressed
from schemas.plans import CompletePlan, Plan
from services.delivery import metrics
from services.delivery.domain.suppression import Outcome, Tally

# Ids derived from the plan: a completion sent twice is one command to the processor.
_COMPLETION_NAMESPACE = uuid.UUID("7d3c9e51-0a4f-4c2b-8e6d-2b1f5a9c7e30")
ACCOUNT = "delivery"


def tally_of(progress: DeliveryProgressed | None) -> Tally:
    if progress is None:
        return Tally()
    return Tally(recipients=progress.recipients, sent=progress.sent, suppressed=progress.suppressed)


def progress_record(
    plan: Plan, as_of: date | None, last: str | None, tally: Tally, *, done: bool, at: datetime
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
    )


def completion(plan: Plan, done: DeliveryProgressed, at: datetime) -> CompletePlan:
    correlation = uuid.uuid5(_COMPLETION_NAMESPACE, plan.plan_id)
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
    )


def count(plan: Plan, outcomes: list[Outcome]) -> None:
    for outcome, n in Counter(outcomes).items():
        if outcome == "sent":
            metrics.SENT.labels(plan.type).inc(n)
        else:
            metrics.SUPPRESSED.labels(plan.type, outcome).inc(n)
