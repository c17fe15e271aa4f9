"""GET /v1/shop/status: access, eligibility with every criterion, level, this week's
quota, the window and the next evaluation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.outreach.api.auth import CustomersAccount
from services.outreach.api.problems import problem_responses
from services.outreach.api.runtime import Runtime, runtime_of
from services.outreach.shop_status import ShopStatus, shop_status_of

router = APIRouter(tags=["shop"], responses=problem_responses(401, 403))


@router.get("/v1/shop/status", response_model=ShopStatus)
async def get_shop_status(
    account: CustomersAccount, runtime: Annotated[Runtime, Depends(runtime_of)]
) -> ShopStatus:
    """The seller's status now. A seller never evaluated answers `not_enrolled`, quota 0,
    `criteria: []` and nulls for what only a status or a market could tell."""
    now = runtime.clock()
    status = await runtime.quota.seller_status(account.seller_id)
    week = await runtime.quota.usage(account.seller_id, now)
    return shop_status_of(account.seller_id, status, week, now)
