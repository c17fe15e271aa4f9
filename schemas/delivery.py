"""Delivery's own record of each plan's fan-out: how far it got and what it counted.

Written in the same Kafka transaction as the OutboundMessages it counts (and the
consumed offsets), so what it says is exactly what a read_committed consumer sees on
crm.outbound-messages. Delivery rebuilds its checkpoints from it at start; the
performance projection reads the counts from it.
"""

from datetime import date
from typing import Literal

from schemas.envelope import Event
from schemas.outbound import PlanType
from schemas.types import Identifier, NonNegativeInt

SuppressionReason = Literal["blocked", "frequency_capped", "already_messaged", "seller_inactive"]
SUPPRESSION_REASONS: tuple[SuppressionReason, ...] = (
    "blocked",
    "frequency_capped",
    "already_messaged",
    "seller_inactive",
)


class DeliveryProgressed(Event):
    """A plan's fan-out so far, cumulative: the latest record of a plan is its whole count.

    For a one-time or campaign plan, `as_of` is the membership day being sent and
    `last_customer_id` the checkpoint: every member up to it (in id order) is handled.
    `done` is set in the transaction that also sends CompletePlan. An automated plan
    is never done; its counts grow with each firing handled.
    """

    event_type: Literal["DeliveryProgressed"] = "DeliveryProgressed"
    seller_id: Identifier
    plan_id: Identifier
    plan_type: PlanType
    segment_id: Identifier
    as_of: date | None
    last_customer_id: Identifier | None
    recipients: NonNegativeInt
    sent: NonNegativeInt
    suppressed: dict[SuppressionReason, NonNegativeInt]
    done: bool
