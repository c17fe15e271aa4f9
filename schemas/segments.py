"""Custom segments (crm.segments) and automated-plan firings (crm.plan-firings).

Neither topic is in SPEC section 6, whose contract leaves them to us:

- crm.segments holds each seller's custom segment definitions as facts, so the Redis
  projection the API and the recompute read can be rebuilt (`crm replay`) and a
  definition outlives a lost Redis.
- crm.plan-firings holds one `AutomatedPlanFired` per (plan, customer): the moment an
  automated plan's trigger hands one customer to delivery. It is written in Kafka
  transactions, so what a read_committed consumer sees holds each pair at most once.
"""

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, JsonValue

from schemas.envelope import Event, StrictModel
from schemas.plans import Trigger
from schemas.types import Identifier, NonNegativeInt

SEGMENT_NAME_MAX_LENGTH = 200
MAX_CONDITIONS = 20


class SegmentCondition(StrictModel):
    """One condition `{field, op, value}` as the seller sent it. Which fields, operators
    and values go together is the customers domain's rule (`validate_conditions`);
    the API checks it before a definition is published."""

    field: Identifier
    op: Identifier
    value: JsonValue = None


class SegmentDefined(Event):
    """A seller saved a custom segment (an AND of its conditions)."""

    event_type: Literal["SegmentDefined"] = "SegmentDefined"
    seller_id: Identifier
    segment_id: Identifier
    account_id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=SEGMENT_NAME_MAX_LENGTH)]
    conditions: Annotated[list[SegmentCondition], Field(min_length=1, max_length=MAX_CONDITIONS)]


class SegmentDeleted(Event):
    """A seller deleted a custom segment; its id is never reused."""

    event_type: Literal["SegmentDeleted"] = "SegmentDeleted"
    seller_id: Identifier
    segment_id: Identifier
    account_id: Identifier


class AutomatedPlanFired(Event):
    """An automated plan's trigger came due for one customer inside its timeframe:
    delivery sends this customer the plan. `event_id` is derived from (plan, customer),
    so the pair has one id wherever it is seen."""

    event_type: Literal["AutomatedPlanFired"] = "AutomatedPlanFired"
    seller_id: Identifier
    plan_id: Identifier
    plan_version: NonNegativeInt
    customer_id: Identifier
    trigger: Trigger
    due_at: AwareDatetime
    """The trigger's due moment; `occurred_at` is when the firing was decided."""
