"""The eligibility worker's topics and its internal command.

    seller-metrics, chat-engagement, shop-blocks, appeals ──► per-partition state
    evaluation-ticks ──► one EvaluatePartition per partition (crm.eligibility-evaluations)
        ──► the partition's owner decides its sellers of that market ──► crm.seller-status

Ticks are keyed by market on a one-partition topic, while seller state is spread over
six partitions; the fan-out lets each partition's owner decide its own sellers in the
same transaction as its own state. The loop itself is in processor.py.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

from schemas.seller import EvaluationDue
from schemas.topics import topic as registry_topic
from services.shared.clock import utc_now

SERVICE = "eligibility"
# Every registry topic the worker reads or writes (created before it starts).
TOPICS = (
    "crm.seller-metrics",
    "crm.chat-engagement",
    "crm.shop-blocks",
    "crm.appeals",
    "crm.evaluation-ticks",
    "crm.seller-status",
    "crm.dead-letters",
    "crm.eligibility-evaluations",
    "crm.eligibility-state",
)
PARTITIONS = registry_topic("crm.seller-metrics").partitions
EVALUATIONS = "crm.eligibility-evaluations"
# The worker's state changelog (compacted, co-partitioned with the inputs).
STATE = "crm.eligibility-state"


class EvaluatePartition(BaseModel):
    """Internal command: decide this partition's sellers of a market for a month."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    market: str
    effective_month: str
    tick_id: str


def scheduled_tick(market: str, month: str) -> EvaluationDue:
    return EvaluationDue(
        event_id=uuid.uuid4(),
        occurred_at=utc_now(),
        market=market,  # type: ignore[arg-type]  # from MARKET_TIME_ZONES
        effective_month=month,
    )
