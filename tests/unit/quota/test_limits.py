"""The limit a status gives, and which plans count."""

from __future__ import annotations

import pytest

from demo.sample_status import sample_status
from schemas.outbound import PlanType
from schemas.seller import Access
from services.quota.domain.limits import counts_against_quota, limit_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("access", "level", "weekly_quota", "limit"),
    [
        ("active", 2, 3, 3),
        ("active", 5, 10, 10),
        ("active", 1, 1, 1),
        ("suspended", None, 0, 0),
        # A non-active status carrying a quota still grants nothing.
        ("suspended", 4, 7, 0),
        ("not_enrolled", None, 0, 0),
        ("not_enrolled", None, 3, 0),
    ],
)
def test_only_an_active_status_grants_its_weekly_quota(
    access: Access, level: int | None, weekly_quota: int, limit: int
) -> None:
    status = sample_status("s", access=access, level=level, weekly_quota=weekly_quota)
    assert limit_of(status) == limit


def test_no_status_means_quota_zero() -> None:
    assert limit_of(None) == 0


@pytest.mark.parametrize(
    ("plan_type", "counts"), [("one_time", True), ("automated", False), ("campaign", False)]
)
def test_only_one_time_plans_count(plan_type: PlanType, counts: bool) -> None:
    assert counts_against_quota(plan_type) is counts
