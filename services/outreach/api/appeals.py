"""POST /v1/appeals and GET /v1/appeals: a suspended seller's appeals (SPEC section 3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from schemas.seller import APPEAL_TEXT_MAX_LENGTH
from services.outreach.api.auth import CustomersAccount
from services.outreach.api.paging import PageRequest, page_of, page_request
from services.outreach.api.patterns import CLEAN_TEXT, NOT_SPACE
from services.outreach.api.problems import ProblemError, problem_responses
from services.outreach.api.runtime import Runtime, runtime_of
from services.outreach.appeals import (
    APPEALS_TOPIC,
    Appeal,
    AppealRefused,
    latest_first,
    submit_appeal,
)

router = APIRouter(tags=["appeals"], responses=problem_responses(401, 403))

_CONFLICT = "urn:crm-broadcast:problem:appeal-refused"


class AppealRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # At least one character that is not whitespace: an empty appeal explains nothing.
    text: Annotated[
        str, Field(min_length=1, max_length=APPEAL_TEXT_MAX_LENGTH, pattern=NOT_SPACE), CLEAN_TEXT
    ]


class AppealList(BaseModel):
    items: list[Appeal]
    next_cursor: str | None = None


@router.post(
    "/v1/appeals",
    status_code=201,
    response_model=Appeal,
    responses=problem_responses(409, 422),
)
async def post_appeal(
    request: AppealRequest,
    account: CustomersAccount,
    runtime: Annotated[Runtime, Depends(runtime_of)],
) -> Appeal:
    """Appeal a suspension. Refused (409) unless the seller is suspended and has no open
    appeal; the eligibility engine decides it later."""
    try:
        return await submit_appeal(
            runtime.appeals,
            runtime.quota,
            lambda event: runtime.publish(APPEALS_TOPIC, event, key=event.seller_id),
            seller_id=account.seller_id,
            account_id=account.account_id,
            text=request.text,
            now=runtime.clock(),
        )
    except AppealRefused as exc:
        raise ProblemError(409, "Conflict", exc.reason, type=_CONFLICT) from None


@router.get("/v1/appeals", response_model=AppealList)
async def get_appeals(
    account: CustomersAccount,
    runtime: Annotated[Runtime, Depends(runtime_of)],
    page: Annotated[PageRequest, Depends(page_request)],
) -> AppealList:
    """The seller's appeals, the latest first, with their decisions."""
    appeals = await runtime.appeals.appeals(account.seller_id)
    items, next_cursor = page_of("appeals", appeals, latest_first, page)
    return AppealList(items=items, next_cursor=next_cursor)
