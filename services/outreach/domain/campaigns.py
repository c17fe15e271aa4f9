"""The rules of a campaign plan (SPEC sections 4 and 5), judged at submit.

A campaign plan belongs to a marketplace campaign announced on crm.campaigns: it sends
inside the campaign's window [starts_at, ends_at) (send-now only while the campaign is
live), in one of the campaign's markets (the seller's market), and counts against the
campaign's per-seller plan limit instead of the weekly quota. Without a known campaign
it is refused.

Pure: the caller passes the campaign as the calendar has it, the seller's market and
`now`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from schemas.campaigns import CampaignAnnounced
from schemas.plans import PlanDraft
from services.outreach.domain.validation import Problem


def campaign_problems(
    plan: PlanDraft, campaign: CampaignAnnounced | None, market: str | None, now: datetime
) -> list[Problem]:
    """Why a campaign plan may not be sent as of `now` (empty: it may). Other plan types
    have none. `market` None (a seller without a status) is left to the access rule."""
    if plan.type != "campaign":
        return []
    if plan.campaign_id is None:
        return [
            Problem(
                field="campaign_id",
                code="campaign_missing",
                message="A campaign plan names the marketplace campaign it belongs to.",
            )
        ]
    if campaign is None:
        return [
            Problem(
                field="campaign_id",
                code="unknown_campaign",
                message=f"No campaign {plan.campaign_id!r} has been announced.",
            )
        ]
    problems: list[Problem] = []
    if market is not None and market not in campaign.markets:
        problems.append(
            Problem(
                field="campaign_id",
                code="campaign_not_in_market",
                message=f"Campaign {campaign.campaign_id!r} runs in "
                f"{', '.join(campaign.markets)}, not in this shop's market {market}.",
            )
        )
    window = f"from {campaign.starts_at.isoformat()} to {campaign.ends_at.isoformat()}"
    if plan.send_now and not inside(campaign, now):
        problems.append(
            Problem(
                field="send_now",
                code="campaign_not_live",
                message=f"Campaign {campaign.campaign_id!r} is not live now; it runs {window}.",
            )
        )
    elif not plan.send_now and plan.send_at is not None and not inside(campaign, plan.send_at):
        problems.append(
            Problem(
                field="send_at",
                code="outside_campaign_window",
                message=f"The send time {plan.send_at.isoformat()} is outside campaign "
                f"{campaign.campaign_id!r}, which runs {window}.",
            )
        )
    return problems


def inside(campaign: CampaignAnnounced, instant: datetime) -> bool:
    """Whether `instant` falls in the campaign's window; ends_at is exclusive."""
    at = instant.astimezone(UTC)
    return campaign.starts_at <= at < campaign.ends_at


def open_to(
    campaigns: Iterable[CampaignAnnounced], market: str, now: datetime
) -> list[CampaignAnnounced]:
    """The campaigns a seller of `market` may still plan for: not over yet, soonest first."""
    return sorted(
        (c for c in campaigns if market in c.markets and now < c.ends_at),
        key=lambda c: (c.starts_at, c.campaign_id),
    )
