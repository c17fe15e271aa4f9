"""Made-up SellerStatusChanged values, as the eligibility service emits them: for the
demo, the benchmark and the tests of every service that reads statuses."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from schemas.seller import Access, SellerStatusChanged


def sample_status(
    seller_id: str,
    *,
    market: str = "TH",
    access: Access = "active",
    level: int | None = 2,
    weekly_quota: int = 3,
    **fields: Any,
) -> SellerStatusChanged:
    eligible = access == "active"
    values: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "occurred_at": datetime(2024, 7, 1, tzinfo=UTC),
        "seller_id": seller_id,
        "market": market,
        "effective_month": "2024-07",
        "access": access,
        "eligible": eligible,
        "level": level,
        "weekly_quota": weekly_quota,
        "criteria": [],
        "performance": None,
        "window_start": date(2024, 5, 22),
        "window_end": date(2024, 6, 22),
        "policy_version": "default-2024.1",
        "reason": "monthly_evaluation",
        "decided_at": datetime(2024, 7, 1, tzinfo=UTC),
    }
    return SellerStatusChanged(**{**values, **fields})
