"""What `GET /v1/shop/status` shows: the seller's latest status, this week's quota and
the next evaluation (SPEC section 7), assembled from values read elsewhere."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from schemas.seller import Access, Criterion, Performance, SellerStatusChanged
from services.eligibility.reader import next_evaluation
from services.quota.port import WeekCount


class ShopStatus(BaseModel):
    """A seller without any status yet is `not_enrolled`, with quota 0, no criteria and
    nulls where a status or a market would be needed."""

    seller_id: str
    market: str | None
    access: Access
    eligible: bool
    level: int | None
    weekly_quota: int = Field(description="The limit of this week: 0 unless active.")
    week: str | None = Field(description="ISO week of now, market-local (YYYY-Www).")
    quota_used: int
    quota_left: int
    criteria: list[Criterion]
    window_start: date | None
    window_end: date | None = Field(description="Exclusive end of the metrics window.")
    next_evaluation: datetime | None = Field(
        description="The next monthly evaluation: the 1st, 00:00 market-local."
    )
    effective_month: str | None
    reason: str | None
    policy_version: str | None
    performance: Performance | None
    decided_at: datetime | None


def shop_status_of(
    seller_id: str, status: SellerStatusChanged | None, week: WeekCount, now: datetime
) -> ShopStatus:
    if status is None:
        return ShopStatus(
            seller_id=seller_id,
            market=None,
            access="not_enrolled",
            eligible=False,
            level=None,
            weekly_quota=0,
            week=None,
            quota_used=0,
            quota_left=0,
            criteria=[],
            window_start=None,
            window_end=None,
            next_evaluation=None,
            effective_month=None,
            reason=None,
            policy_version=None,
            performance=None,
            decided_at=None,
        )
    return ShopStatus(
        seller_id=seller_id,
        market=status.market,
        access=status.access,
        eligible=status.eligible,
        level=status.level,
        weekly_quota=week.limit,
        week=week.week,
        quota_used=week.used,
        quota_left=week.left,
        criteria=list(status.criteria),
        window_start=status.window_start,
        window_end=status.window_end,
        next_evaluation=next_evaluation(now, status.market),
        effective_month=status.effective_month,
        reason=status.reason,
        policy_version=status.policy_version,
        performance=status.performance,
        decided_at=status.decided_at,
    )
