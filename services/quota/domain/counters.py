"""What a plan's unit is counted in (SPEC sections 4 and 5).

A one-time plan takes a unit of its seller's week (the weekly quota of the seller's
status). A campaign plan takes one of its campaign's per-seller plans
(`plans_per_seller`), in a counter of its own per (seller, campaign); the weekly
quota never sees it. An automated plan, or a campaign plan given without its
campaign, counts nowhere.

Both counters follow the same reservation rules (reservations.py) and the same
ledger; only the counter's label, its limit and how long its keys live differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.outbound import PlanType
from services.quota.domain.week import KEYS_OUTLIVE_WEEK_BY

CAMPAIGN_LABEL_PREFIX = "campaign:"


@dataclass(frozen=True)
class CampaignLimit:
    """The campaign a plan belongs to, as the caller's calendar has it at the check."""

    campaign_id: str
    plans_per_seller: int
    ends_at: datetime

    @property
    def label(self) -> str:
        """The counter's name; an ISO week 'YYYY-Www' never looks like it."""
        return campaign_label(self.campaign_id)


def campaign_label(campaign_id: str) -> str:
    return f"{CAMPAIGN_LABEL_PREFIX}{campaign_id}"


def is_campaign_label(label: str) -> bool:
    return label.startswith(CAMPAIGN_LABEL_PREFIX)


def counted_campaign(plan_type: PlanType, campaign: CampaignLimit | None) -> CampaignLimit | None:
    """The campaign counter a plan uses, or None (a one-time plan uses its week)."""
    return campaign if plan_type == "campaign" else None


def campaign_keys_expire_at(ends_at: datetime, last_write: datetime) -> datetime:
    """A campaign's counter is kept until well after the campaign ends (a late release
    must still find its reservation), as a week's is after the week (week.py)."""
    return max(ends_at, last_write) + KEYS_OUTLIVE_WEEK_BY
