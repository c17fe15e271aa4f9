"""The quota ledger: every reservation and release, so counters can be rebuilt.

A one-time plan's unit counts against its seller's week (QuotaReserved / QuotaReleased,
SPEC section 6); a campaign plan's against its campaign's per-seller plan limit
(CampaignQuotaReserved / CampaignQuotaReleased, an addition: the same facts with the
campaign in place of the week).
"""

from typing import Literal

from pydantic import AwareDatetime, Field

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


class _CampaignQuotaEvent(Event):
    # Not an event itself: a campaign plan's unit, counted per (seller, campaign).
    seller_id: Identifier
    plan_id: Identifier
    campaign_id: Identifier
    campaign_ends_at: AwareDatetime = Field(
        description="The campaign's end when the unit was taken: its counter is kept until then."
    )
    limit: NonNegativeInt = Field(description="The campaign's plans_per_seller at the check.")
    used_after: NonNegativeInt = Field(
        description="The seller's units of this campaign after this event."
    )


class CampaignQuotaReserved(_CampaignQuotaEvent):
    """A campaign plan took one of its campaign's per-seller plans."""

    event_type: Literal["CampaignQuotaReserved"] = "CampaignQuotaReserved"


class CampaignQuotaReleased(_CampaignQuotaEvent):
    """A campaign plan cancelled or rejected before dispatch gave its unit back."""

    event_type: Literal["CampaignQuotaReleased"] = "CampaignQuotaReleased"
