"""Performance in the API: the shapes of a plan's and a segment's figures, and
GET /v1/overview (SPEC sections 5 and 7). The figures are delivery's projection
(services/delivery/performance)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from schemas.plans import Plan
from services.delivery.performance.reader import MAX_OVERVIEW_DAYS
from services.outreach.api.auth import CustomersAccount
from services.outreach.api.problems import FieldError, ProblemError, problem_responses
from services.outreach.api.runtime import Runtime, runtime_of

router = APIRouter(prefix="/v1/overview", tags=["overview"], responses=problem_responses(422, 503))
Rt = Annotated[Runtime, Depends(runtime_of)]


class PlanPerformance(BaseModel):
    recipients: int = Field(description="Members at dispatch (automated: customers fired).")
    suppressed: dict[str, int] = Field(description="Recipients not sent to, by reason.")
    sent: int
    delivered: int
    read: int = Field(description="Distinct messages read (a message read twice counts once).")
    clicked: int = Field(description="Distinct messages clicked.")
    failed: int = Field(description="Messages the chat system could not deliver.")
    orders: int = Field(description="Orders attributed: the latest plan received in 7 days.")
    gmv: float = Field(description="Sum of the attributed orders' gmv.")
    coupons_claimed: int


class SegmentPerformance(PlanPerformance):
    plans: int = Field(description="Plans that targeted the segment.")


class SegmentPerformanceSnapshot(SegmentPerformance):
    as_of: date = Field(
        description="The market-local day the figures are as of (yesterday): events up to "
        "its end count. Zeros when no plan that targeted the segment had any by then."
    )


class PlanWithPerformance(Plan):
    performance: PlanPerformance | None = Field(
        default=None, description="Null until the plan's first dispatch."
    )


class Funnel(BaseModel):
    delivered: int
    read: int
    clicked: int
    ordered: int


class SegmentFigures(BaseModel):
    segment_id: str
    delivered: int
    read: int
    clicked: int
    orders: int
    gmv: float


class Overview(BaseModel):
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    funnel: Funnel
    segments: list[SegmentFigures] = Field(description="Segments targeted by the plans counted.")
    market: str | None = Field(description="The seller's market; null while it is unknown.")
    time_zone: str = Field(description="Whose calendar the days are (UTC while unknown).")


def _bad_range(field: str, message: str) -> ProblemError:
    return ProblemError(
        422, "Invalid date range", message, errors=[FieldError(field=field, message=message)]
    )


@router.get(
    "",
    summary="The funnel delivered → read → clicked → ordered and per-segment figures",
    response_model_by_alias=True,
)
async def overview(
    account: CustomersAccount,
    runtime: Rt,
    from_: Annotated[date, Query(alias="from", description="First market-local day.")],
    to: Annotated[date, Query(description="Last market-local day (inclusive).")],
) -> Overview:
    if to < from_:
        raise _bad_range("query.to", "must not be before from")
    if (to - from_).days + 1 > MAX_OVERVIEW_DAYS:
        raise _bad_range("query.to", f"a range covers at most {MAX_OVERVIEW_DAYS} days")
    figures = await runtime.performance.overview(account.seller_id, from_, to)
    return Overview.model_validate({"from": from_, "to": to, **figures})
