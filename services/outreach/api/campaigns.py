"""GET /v1/campaigns: the marketplace campaigns the seller may plan campaign plans for,
with how many of each campaign's per-seller plans the seller has left."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel

from services.outreach.api.auth import CustomersAccount
from services.outreach.api.problems import problem_responses
from services.outreach.api.runtime import Runtime, runtime_of
from services.outreach.domain.campaigns import open_to
from services.quota.port import CampaignLimit

router = APIRouter(tags=["campaigns"], responses=problem_responses(401, 403))


class CampaignView(BaseModel):
    campaign_id: str
    name: str
    markets: list[str]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    live: bool
    plans_per_seller: int
    plans_used: int
    plans_left: int


class CampaignList(BaseModel):
    items: list[CampaignView]


@router.get("/v1/campaigns", response_model=CampaignList)
async def list_campaigns(
    account: CustomersAccount, runtime: Annotated[Runtime, Depends(runtime_of)]
) -> CampaignList:
    """Campaigns of the seller's market that have not ended, soonest first (none while
    the seller's market is not known). A handful at a time, so not paged."""
    status = await runtime.quota.seller_status(account.seller_id)
    if status is None:
        return CampaignList(items=[])
    now = runtime.clock()
    items = []
    for c in open_to(await runtime.campaigns.every_campaign(), status.market, now):
        limit = CampaignLimit(c.campaign_id, c.plans_per_seller, c.ends_at)
        usage = await runtime.quota.usage(account.seller_id, now, limit)
        items.append(
            CampaignView(
                campaign_id=c.campaign_id,
                name=c.name,
                markets=list(c.markets),
                starts_at=c.starts_at,
                ends_at=c.ends_at,
                live=c.starts_at <= now,
                plans_per_seller=c.plans_per_seller,
                plans_used=usage.used,
                plans_left=usage.left,
            )
        )
    return CampaignList(items=items)
