"""The weekly-quota ledger: every reservation and release, so counters can be rebuilt."""

from typing import Literal

from pydantic import Field

from schemas.envelope import Event
from schemas.types import Identifier, IsoWeek, NonNegativeInt


class _QuotaEvent(Event):
    # Not an event itself: reservations and releases carry the same facts.
    seller_id: Identifier
    plan_id: Identifier
    week: IsoWeek = Field(description="Market-local ISO week of the plan's send time.")
    limit: NonNegativeInt = Field(description="The seller's weekly quota at the check.")
    used_after: NonNegativeInt = Field(description="Units used in the week after this event.")


class QuotaReserved(_QuotaEvent):
    """A one-time plan took a unit of its week's quota."""

    event_type: Literal["QuotaReserved"] = "QuotaReserved"


class QuotaReleased(_QuotaEvent):
    """A plan cancelled or rejected before dispatch gave its unit back."""

    event_type: Literal["QuotaReleased"] = "QuotaReleased"
