"""Small builders for eligibility unit tests: events with only the fields a test cares about."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from schemas.seller import SellerMetricsReported
from services.policy import load_policy

POLICY = load_policy().default
AT = datetime(2024, 7, 1, tzinfo=UTC)


def metrics(
    day: str | date,
    *,
    seller: str = "s1",
    market: str = "TH",
    received: int = 100,
    responded: int = 90,
    ses: float | None = 4.0,
    violations: int = 0,
    extra: dict[str, float] | None = None,
    at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> SellerMetricsReported:
    fields: dict[str, Any] = {
        "event_id": event_id or uuid.uuid4(),
        "occurred_at": at or datetime(2024, 1, 1, tzinfo=UTC),
        "seller_id": seller,
        "market": market,
        "metrics_date": date.fromisoformat(day) if isinstance(day, str) else day,
        "chats_received": received,
        "chats_responded_12h": responded,
        "ses": ses,
        "violation_points": violations,
        "extra": extra or {},
    }
    return SellerMetricsReported.model_validate(fields)
