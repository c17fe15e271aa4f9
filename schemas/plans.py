"""Broadcast plans: what a seller drafts, the commands the API sends the plan processor
(crm.plan-commands), the lifecycle it publishes (crm.plan-events) and its answers to
the API (crm.plan-replies).

Every plan event carries the whole plan after the change, so a consumer (the read
model, delivery) needs no other lookup and the processor rebuilds its state by
keeping the latest plan of each id.
"""

from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    AwareDatetime,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from schemas.envelope import Event, StrictModel
from schemas.outbound import MAX_PRODUCTS, TEXT_MAX_LENGTH, Button, PlanType
from schemas.types import Identifier, Label, NonNegativeInt, field_error

PLAN_NAME_MAX_LENGTH = 200
MAX_LANGUAGES = 20

PlanStatus = Literal[
    "draft", "scheduled", "sending", "completed", "ongoing", "ended", "cancelled", "rejected"
]
RejectReason = Literal["not_eligible", "quota_exhausted", "invalid_plan"]
CancelReason = Literal["seller_cancelled", "seller_suspended"]
TriggerType = Literal["cart_abandoned", "new_follower", "post_purchase", "win_back"]

# SPEC section 5: the delay each trigger waits unless the plan says otherwise.
DEFAULT_AFTER_HOURS = {"cart_abandoned": 24}
DEFAULT_AFTER_DAYS = {"post_purchase": 3, "win_back": 60}
MAX_AFTER_HOURS = 24 * 30
MAX_AFTER_DAYS = 3 * 365

PlanText = Annotated[str, Field(min_length=1, max_length=TEXT_MAX_LENGTH)]


class PlanContent(StrictModel):
    """What the customers receive: texts per language, products, coupon and button."""

    template_id: Identifier | None = None
    default_language: Label
    texts: Annotated[dict[Label, PlanText], Field(max_length=MAX_LANGUAGES)]
    product_ids: Annotated[list[Identifier], Field(max_length=MAX_PRODUCTS)] = Field(
        default_factory=list
    )
    coupon_id: Identifier | None = None
    button: Button | None = None

    @model_validator(mode="after")
    def _default_language_has_text(self) -> Self:
        if self.default_language not in self.texts:
            raise field_error(
                "texts",
                "default_language_missing",
                "must have a text for the default language {language}",
                language=self.default_language,
            )
        return self


class Trigger(StrictModel):
    """What makes an automated plan message one customer, and after what delay."""

    type: TriggerType
    after_hours: Annotated[int, Field(ge=1, le=MAX_AFTER_HOURS)] | None = None
    after_days: Annotated[int, Field(ge=1, le=MAX_AFTER_DAYS)] | None = None

    @model_validator(mode="after")
    def _delay_fits_type(self) -> Self:
        if self.after_hours is not None and self.type not in DEFAULT_AFTER_HOURS:
            raise field_error(
                "after_hours", "delay_unused", "{type} takes no after_hours", type=self.type
            )
        if self.after_days is not None and self.type not in DEFAULT_AFTER_DAYS:
            raise field_error(
                "after_days", "delay_unused", "{type} takes no after_days", type=self.type
            )
        return self

    def with_defaults(self) -> "Trigger":
        """The trigger with its SPEC default delay filled in."""
        return self.model_copy(
            update={
                "after_hours": self.after_hours or DEFAULT_AFTER_HOURS.get(self.type),
                "after_days": self.after_days or DEFAULT_AFTER_DAYS.get(self.type),
            }
        )


class PlanDraft(StrictModel):
    """The fields a seller writes. Checks needing a clock, the template catalogue or the
    seller's segments live in services/outreach/domain/validation.py."""

    type: PlanType
    name: Annotated[str, Field(min_length=1, max_length=PLAN_NAME_MAX_LENGTH)]
    segment_id: Identifier
    content: PlanContent
    send_at: AwareDatetime | None = None
    send_now: bool = False
    trigger: Trigger | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    # The marketplace campaign (crm.campaigns) a campaign plan belongs to. Required for
    # campaign plans by the outreach rules, not here: plans saved before campaigns
    # were named must still decode from the log.
    campaign_id: Identifier | None = None


# The most shards a plan's recipients are split into (one per delivery input partition).
MAX_SHARDS = 256
ShardIndex = Annotated[int, Field(ge=0, lt=MAX_SHARDS)]
ShardCount = Annotated[int, Field(ge=1, le=MAX_SHARDS)]


class ShardReport(StrictModel):
    """What one shard of a plan's recipients counted."""

    shard: ShardIndex
    recipients: NonNegativeInt
    sent: NonNegativeInt
    suppressed: dict[Label, NonNegativeInt] = Field(default_factory=dict)


class Plan(PlanDraft):
    """A plan as the processor keeps it: the draft plus its lifecycle."""

    plan_id: Identifier
    seller_id: Identifier
    created_by: Identifier
    status: PlanStatus
    reason: Label | None = None
    # Increases by one with every event of this plan; read models keep the highest.
    version: Annotated[int, Field(ge=1)]
    created_at: AwareDatetime
    updated_at: AwareDatetime
    submitted_at: AwareDatetime | None = None
    # The instant whose market-local week the plan's quota unit belongs to.
    quota_at: AwareDatetime | None = None
    dispatched_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    recipients: NonNegativeInt | None = None
    sent: NonNegativeInt | None = None
    suppressed: dict[Label, NonNegativeInt] | None = None
    # A sharded fan-out's shards that reported so far (while sending): the plan completes
    # when every shard has, with their counts summed once. None: no shard reported.
    shards_reported: list[ShardReport] | None = None


# --- commands: crm.plan-commands, key seller_id -------------------------------------


class _PlanCommand(Event):
    # Not a command itself: the fields every command shares. The API waits for the
    # reply carrying its correlation_id.
    correlation_id: UUID
    seller_id: Identifier
    account_id: Identifier
    plan_id: Identifier


class CreatePlan(_PlanCommand):
    """Save a new draft (idempotent per plan_id)."""

    event_type: Literal["CreatePlan"] = "CreatePlan"
    draft: PlanDraft


class EditPlan(_PlanCommand):
    """Replace a draft's fields; refused unless the plan is still the given version."""

    event_type: Literal["EditPlan"] = "EditPlan"
    draft: PlanDraft
    expected_version: Annotated[int, Field(ge=1)]


class DeletePlan(_PlanCommand):
    """Delete a draft."""

    event_type: Literal["DeletePlan"] = "DeletePlan"


class SubmitPlan(_PlanCommand):
    """Submit a draft: schedule it, start sending, start it, or reject it with a reason."""

    event_type: Literal["SubmitPlan"] = "SubmitPlan"


class CancelPlan(_PlanCommand):
    """Cancel a scheduled or ongoing plan (a scheduled one-time plan gives its unit back)."""

    event_type: Literal["CancelPlan"] = "CancelPlan"


class CompletePlan(_PlanCommand):
    """Delivery handled every recipient of a sending plan, or (`shard_count` > 1) every
    recipient of one shard of it: the counts are that shard's."""

    event_type: Literal["CompletePlan"] = "CompletePlan"
    recipients: NonNegativeInt
    sent: NonNegativeInt
    suppressed: dict[Label, NonNegativeInt] = Field(default_factory=dict)
    shard: ShardIndex = 0
    shard_count: ShardCount = 1

    @model_validator(mode="after")
    def _shard_in_range(self) -> Self:
        if self.shard >= self.shard_count:
            raise field_error("shard", "shard_out_of_range", "must be below shard_count")
        return self

    @model_serializer(mode="wrap")
    def _whole_plan_written_as_before(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A whole plan's completion reads back exactly as those from before shards.
        dumped = handler(self)
        if isinstance(dumped, dict) and dumped.get("shard_count") == 1:
            dumped.pop("shard", None)
            dumped.pop("shard_count", None)
        return dumped


# --- events: crm.plan-events, key seller_id ------------------------------------------


class _PlanEvent(Event):
    # Not an event itself. correlation_id names the command that caused the change,
    # null when the processor acted on its own (a due dispatch, a suspension).
    seller_id: Identifier
    plan_id: Identifier
    correlation_id: UUID | None
    plan: Plan

    @model_validator(mode="after")
    def _names_its_plan(self) -> Self:
        if (self.plan.seller_id, self.plan.plan_id) != (self.seller_id, self.plan_id):
            raise field_error("plan", "plan_mismatch", "must be the plan the event names")
        return self


class PlanCreated(_PlanEvent):
    """A draft was saved."""

    event_type: Literal["PlanCreated"] = "PlanCreated"


class PlanEdited(_PlanEvent):
    """A draft's fields changed."""

    event_type: Literal["PlanEdited"] = "PlanEdited"


class PlanDeleted(_PlanEvent):
    """A draft was deleted; `plan` is its last state."""

    event_type: Literal["PlanDeleted"] = "PlanDeleted"


class PlanScheduled(_PlanEvent):
    """A one-time or campaign plan waits for its send_at."""

    event_type: Literal["PlanScheduled"] = "PlanScheduled"


class PlanDispatched(_PlanEvent):
    """Sending started: delivery fans the plan out to its segment now."""

    event_type: Literal["PlanDispatched"] = "PlanDispatched"


class PlanStarted(_PlanEvent):
    """An automated plan is live; its trigger fires inside its timeframe."""

    event_type: Literal["PlanStarted"] = "PlanStarted"


class PlanEnded(_PlanEvent):
    """An automated plan's timeframe is over."""

    event_type: Literal["PlanEnded"] = "PlanEnded"


class PlanCompleted(_PlanEvent):
    """Every recipient of a sending plan was handled."""

    event_type: Literal["PlanCompleted"] = "PlanCompleted"


class PlanShardCompleted(_PlanEvent):
    """One shard of a sending plan's recipients was handled (`plan.shards_reported`); the
    plan completes with its last shard."""

    event_type: Literal["PlanShardCompleted"] = "PlanShardCompleted"


class PlanCancelled(_PlanEvent):
    """Cancelled by the seller or the system; `plan.reason` says which."""

    event_type: Literal["PlanCancelled"] = "PlanCancelled"


class PlanRejected(_PlanEvent):
    """A submit was refused; `plan.reason` says why."""

    event_type: Literal["PlanRejected"] = "PlanRejected"


# --- replies: crm.plan-replies, key seller_id -----------------------------------------

ReplyOutcome = Literal["applied", "not_found", "forbidden_action", "version_conflict"]


class PlanCommandAnswered(Event):
    """The processor's answer to one command: the plan afterwards, or why nothing changed."""

    event_type: Literal["PlanCommandAnswered"] = "PlanCommandAnswered"
    correlation_id: UUID
    seller_id: Identifier
    plan_id: Identifier
    command: Label
    outcome: ReplyOutcome
    detail: Annotated[str, Field(max_length=500)] | None
    plan: Plan | None


def latest(current: Plan | None, incoming: Plan) -> Plan:
    """The newer of two states of one plan; events may be read twice."""
    if current is None or incoming.version > current.version:
        return incoming
    return current


__all__ = [
    "CancelPlan",
    "CompletePlan",
    "CreatePlan",
    "DeletePlan",
    "EditPlan",
    "Plan",
    "PlanCancelled",
    "PlanCommandAnswered",
    "PlanCompleted",
    "PlanContent",
    "PlanCreated",
    "PlanDeleted",
    "PlanDispatched",
    "PlanDraft",
    "PlanEdited",
    "PlanEnded",
    "PlanRejected",
    "PlanScheduled",
    "PlanShardCompleted",
    "PlanStarted",
    "ShardReport",
    "SubmitPlan",
    "Trigger",
]
