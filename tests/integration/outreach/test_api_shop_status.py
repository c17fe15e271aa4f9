"""GET /v1/shop/status: the seller's status as the quota service projected it from
crm.seller-status, this week's usage and the next evaluation."""

from __future__ import annotations

import asyncio
from contextlib import suppress

from demo.sample_status import sample_status
from schemas.seller import Criterion
from services.quota.adapter import open_quota
from services.quota.status_projection import status_consumer
from services.shared.codec import encode
from tests.integration.outreach.conftest import ApiUnderTest
from tests.integration.outreach.support import eventually

CRITERIA = [
    Criterion(name="response_rate_12h", value=0.9, op=">=", threshold=0.85, passed=True, note=None),
    Criterion(name="ses", value=4.1, op=">=", threshold=3.5, passed=True, note=None),
    Criterion(name="violation_points", value=2.0, op="<", threshold=12.0, passed=True, note=None),
]


async def test_the_status_the_quota_projection_picked_up(
    api: ApiUnderTest, test_id: str, group_id: str
) -> None:
    seller = f"seller-{test_id}"
    status = sample_status(seller, market="TH", level=2, weekly_quota=3, criteria=CRITERIA)
    await api.runtime.producer.send_and_wait(
        api.settings.topic("crm.seller-status"), encode(status), key=seller.encode()
    )
    async with open_quota(api.settings) as quota:
        consumer = status_consumer(api.settings, quota.store, group_id=group_id)
        projecting = asyncio.create_task(consumer.run())
        try:

            async def active() -> dict | None:  # type: ignore[type-arg]
                body = (await api.client.get("/v1/shop/status", headers=api.auth(seller))).json()
                return body if body["access"] == "active" else None

            body = await eventually(active)
        finally:
            projecting.cancel()
            with suppress(asyncio.CancelledError):
                await projecting
    assert body, "the status was projected"
    reserved = await api.runtime.quota.reserve(seller, f"plan-{test_id}", "one_time", api.clock())
    assert reserved.outcome == "reserved"

    response = await api.client.get("/v1/shop/status", headers=api.auth(seller))

    assert response.status_code == 200
    body = response.json()
    fixed = {
        "seller_id": seller,
        "market": "TH",
        "access": "active",
        "eligible": True,
        "level": 2,
        "weekly_quota": 3,
        "week": "2024-W27",
        "quota_used": 1,
        "quota_left": 2,
        "criteria": [c.model_dump() for c in CRITERIA],
        "window_start": "2024-05-22",
        "window_end": "2024-06-22",
        "next_evaluation": "2024-08-01T00:00:00+07:00",
    }
    assert {name: body[name] for name in fixed} == fixed
    assert body["effective_month"] == "2024-07"


async def test_a_seller_without_status_is_not_enrolled(api: ApiUnderTest, test_id: str) -> None:
    seller = f"newcomer-{test_id}"

    response = await api.client.get("/v1/shop/status", headers=api.auth(seller))

    assert response.status_code == 200, response.text
    body = response.json()
    expected = {
        "seller_id": seller,
        "market": None,
        "access": "not_enrolled",
        "eligible": False,
        "level": None,
        "weekly_quota": 0,
        "week": None,
        "quota_used": 0,
        "quota_left": 0,
        "criteria": [],
        "window_start": None,
        "window_end": None,
        "next_evaluation": None,
    }
    assert {name: body[name] for name in expected} == expected
