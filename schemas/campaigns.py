"""The marketplace's campaign calendar (crm.campaigns, key campaign_id).

A campaign plan belongs to one of these campaigns: it sends inside the campaign's
window, in one of its markets, and counts against its per-seller plan limit instead
of the weekly quota (SPEC sections 4 and 5).

A campaign is announced by its id; a later CampaignAnnounced with the same id (later
in the log: one key, one partition) is a correction and replaces the earlier one
whole. Plans already scheduled keep what they were accepted under.
"""

from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from schemas.envelope import Event
from schemas.markets import MARKET_TIME_ZONES, Market
from schemas.types import Identifier, field_error

CAMPAIGN_NAME_MAX_LENGTH = 200
# A sanity bound, not policy: a campaign lets each seller send a handful of plans.
MAX_PLANS_PER_SELLER = 1000


class CampaignAnnounced(Event):
    """A marketplace campaign: its window [starts_at, ends_at), markets and per-seller limit."""

    event_type: Literal["CampaignAnnounced"] = "CampaignAnnounced"
    campaign_id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=CAMPAIGN_NAME_MAX_LENGTH)]
    markets: Annotated[list[Market], Field(min_length=1, max_length=len(MARKET_TIME_ZONES))]
    starts_at: AwareDatetime = Field(description="First instant campaign plans may send.")
    ends_at: AwareDatetime = Field(description="Exclusive: plans send before this instant.")
    plans_per_seller: Annotated[int, Field(ge=1, le=MAX_PLANS_PER_SELLER)] = Field(
        description="How many campaign plans one seller may have accepted for this campaign."
    )

    @model_validator(mode="after")
    def _window_and_markets(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise field_error("ends_at", "ends_before_start", "must be after starts_at")
        if len(set(self.markets)) != len(self.markets):
            raise field_error("markets", "duplicate_market", "must name each market once")
        return self
