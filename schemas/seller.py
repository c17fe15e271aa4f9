"""Seller metrics, eligibility status, evaluation ticks, appeals and sub-account permissions."""

from datetime import date
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, Field, WithJsonSchema, model_validator

from schemas.envelope import Event, StrictModel
from schemas.markets import Market
from schemas.types import (
    IDENTIFIER_JSON_SCHEMA,
    Identifier,
    Label,
    Level,
    Month,
    NonNegativeInt,
    Rate,
    SesScore,
    field_error,
)

MAX_EXTRA_METRICS = 50
APPEAL_TEXT_MAX_LENGTH = 2000

# Spelled out for JSON Schema: pydantic would move the name pattern into
# patternProperties, which leaves badly named metrics unchecked.
ExtraMetrics = Annotated[
    dict[Identifier, float],
    Field(max_length=MAX_EXTRA_METRICS),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_EXTRA_METRICS,
            "propertyNames": IDENTIFIER_JSON_SCHEMA,
            "additionalProperties": {"type": "number"},
        }
    ),
]

Access = Literal["not_enrolled", "active", "suspended"]
Permission = Literal["customers"]


class SellerMetricsReported(Event):
    """A seller's customer-service metrics for one market-local day.

    A later report for the same (seller_id, metrics_date) replaces the earlier one.
    """

    event_type: Literal["SellerMetricsReported"] = "SellerMetricsReported"
    seller_id: Identifier
    market: Market
    metrics_date: date = Field(description="Market-local date the metrics describe.")
    chats_received: NonNegativeInt
    chats_responded_12h: NonNegativeInt
    ses: SesScore | None
    violation_points: NonNegativeInt
    extra: ExtraMetrics = Field(
        default_factory=dict, description="Further business metrics: name -> number."
    )

    @model_validator(mode="after")
    def _responded_within_received(self) -> Self:
        if self.chats_responded_12h > self.chats_received:
            raise field_error(
                "chats_responded_12h",
                "responded_exceeds_received",
                "must be <= chats_received ({responded} > {received})",
                responded=self.chats_responded_12h,
                received=self.chats_received,
            )
        return self


class Criterion(StrictModel):
    """One eligibility criterion of a decision, with why it passed or failed."""

    name: Label
    value: float | None
    op: Label
    threshold: float | None
    passed: bool
    note: Label | None


class Performance(StrictModel):
    """Broadcast performance over the decision window."""

    delivered: NonNegativeInt
    read: NonNegativeInt
    blocked: NonNegativeInt
    read_rate: Rate
    block_rate: Rate


class SellerStatusChanged(Event):
    """A seller's access, level and weekly quota from an effective month on."""

    event_type: Literal["SellerStatusChanged"] = "SellerStatusChanged"
    seller_id: Identifier
    market: Market
    effective_month: Month
    access: Access
    eligible: bool
    level: Level | None
    weekly_quota: NonNegativeInt
    criteria: list[Criterion]
    performance: Performance | None
    window_start: date
    window_end: date = Field(description="Exclusive end of the metrics window.")
    policy_version: Label
    reason: Label
    decided_at: AwareDatetime

    @model_validator(mode="after")
    def _window_not_empty(self) -> Self:
        if self.window_start >= self.window_end:
            raise field_error(
                "window_end",
                "window_empty",
                "must be after window_start ({start} >= {end})",
                start=self.window_start.isoformat(),
                end=self.window_end.isoformat(),
            )
        return self


class EvaluationDue(Event):
    """Time to decide every known seller of a market for an effective month."""

    event_type: Literal["EvaluationDue"] = "EvaluationDue"
    market: Market
    effective_month: Month


class AppealSubmitted(Event):
    """A suspended seller asks to be reinstated."""

    event_type: Literal["AppealSubmitted"] = "AppealSubmitted"
    appeal_id: Identifier
    seller_id: Identifier
    account_id: Identifier
    text: Annotated[str, Field(min_length=1, max_length=APPEAL_TEXT_MAX_LENGTH)]


class AppealDecided(Event):
    """An operator's decision on an appeal."""

    event_type: Literal["AppealDecided"] = "AppealDecided"
    appeal_id: Identifier
    seller_id: Identifier
    approved: bool
    decided_by: Identifier
    note: Annotated[str, Field(max_length=APPEAL_TEXT_MAX_LENGTH)] | None


class PermissionGranted(Event):
    """The shop owner grants a permission to a sub-account."""

    event_type: Literal["PermissionGranted"] = "PermissionGranted"
    seller_id: Identifier
    account_id: Identifier
    permission: Permission


class PermissionRevoked(Event):
    """The shop owner revokes a permission from a sub-account."""

    event_type: Literal["PermissionRevoked"] = "PermissionRevoked"
    seller_id: Identifier
    account_id: Identifier
    permission: Permission


class ShopProfileUpdated(Event):
    """The shop's public profile as customers see it; the latest one per seller wins.

    Delivery fills `{shop_name}` in the messages it sends with the latest name.
    """

    event_type: Literal["ShopProfileUpdated"] = "ShopProfileUpdated"
    seller_id: Identifier
    shop_name: Label = Field(description="The shop's display name, e.g. 'Bloom Flowers'.")
