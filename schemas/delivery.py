"""Delivery's own record of each plan's fan-out: how far it got and what it counted.

Written in the same Kafka transaction as the OutboundMessages it counts (and the
consumed offsets), so what it says is exactly what a read_committed consumer sees on
crm.outbound-messages. Delivery rebuilds its checkpoints from it at start; the
performance projection reads the counts from it.
"""

from datetime import date
from typing import Any, Literal, Self

from pydantic import SerializerFunctionWrapHandler, model_serializer, model_validator

from schemas.envelope import Event
from schemas.outbound import PlanType
from schemas.plans import Plan, ShardCount, ShardIndex
from schemas.types import Identifier, NonNegativeInt, field_error

SuppressionReason = Literal["blocked", "frequency_capped", "already_messaged", "seller_inactive"]
SUPPRESSION_REASONS: tuple[SuppressionReason, ...] = (
    "blocked",
    "frequency_capped",
    "already_messaged",
    "seller_inactive",
)


class DeliveryProgressed(Event):
    """A plan's fan-out so far, cumulative: the latest record of a plan is its whole count
    — of a sharded plan (`shard_count` > 1), the latest record of each shard is that
    shard's count, and the plan's is their sum.

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
    shard: ShardIndex = 0
    shard_count: ShardCount = 1

    @model_validator(mode="after")
    def _shard_in_range(self) -> Self:
        if self.shard >= self.shard_count:
            raise field_error("shard", "shard_out_of_range", "must be below shard_count")
        return self

    @model_serializer(mode="wrap")
    def _whole_plan_written_as_before(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A whole plan's record reads back exactly as records from before shards.
        return without_whole_shard(handler(self))

    @property
    def progress_key(self) -> str:
        """Its Kafka key: compaction keeps the latest record of each (plan, shard)."""
        return self.plan_id if self.shard_count == 1 else f"{self.plan_id}/{self.shard}"


class PlanShardAssigned(Event):
    """One shard of a dispatched plan's recipients: the members whose customer-id hash
    modulo `shard_count` is `shard`, as of `as_of` (the day the dispatch pinned, so every
    shard sends to one membership). Shard i is on partition i of crm.delivery-shards; its
    owner fans it out and sends CompletePlan for it."""

    event_type: Literal["PlanShardAssigned"] = "PlanShardAssigned"
    seller_id: Identifier
    plan_id: Identifier
    plan: Plan
    as_of: date | None
    shard: ShardIndex
    shard_count: ShardCount

    @model_validator(mode="after")
    def _shard_in_range(self) -> Self:
        if self.shard >= self.shard_count:
            raise field_error("shard", "shard_out_of_range", "must be below shard_count")
        return self


def without_whole_shard(dumped: Any) -> Any:
    """A dump without `shard` and `shard_count` when they say "the whole plan"."""
    if isinstance(dumped, dict) and dumped.get("shard_count") == 1:
        dumped.pop("shard", None)
        dumped.pop("shard_count", None)
    return dumped
