"""What a seller may reserve: the weekly limit of its status, and which plans count."""

from __future__ import annotations

from schemas.outbound import PlanType
from schemas.seller import SellerStatusChanged


def limit_of(status: SellerStatusChanged | None) -> int:
    """The weekly quota the seller's current status grants.

    No status yet, suspended or not enrolled: 0. Only an active seller's
    weekly_quota counts, whatever a non-active status carries.
    """
    if status is None or status.access != "active":
        return 0
    return status.weekly_quota


def counts_against_quota(plan_type: PlanType) -> bool:
    """Only one-time plans use weekly quota; automated and campaign plans never do."""
    return plan_type == "one_time"
