"""The whole outreach stack for HTTP tests of /v1/plans: the API on a loopback uvicorn
(real clock) and the plan processor in-process, on this test's topics and Redis prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from schemas.campaigns import CampaignAnnounced
from schemas.seller import SellerStatusChanged
from services.outreach.api.app import build_app
from services.outreach.api.auth import Role, mint_token
from services.outreach.api.limits import ApiLimits
from services.outreach.api.runtime import Runtime, open_runtime
from services.outreach.config import OutreachSettings
from services.quota.adapter import RedisQuota
from services.shared.clock import utc_now
from services.shared.settings import Settings
from tests.integration.outreach.processor_support import announce, running_processor
from tests.integration.outreach.serving import serving


@dataclass
class PlansApi:
    settings: Settings
    runtime: Runtime
    client: httpx.AsyncClient

    def auth(self, seller: str, account: str | None = None, role: Role = "owner") -> dict[str, str]:
        token = mint_token(
            self.settings.jwt_secret.get_secret_value(),
            seller,
            account or f"{seller}-owner",
            role,
            3600,
            utc_now(),
        )
        return {"Authorization": f"Bearer {token}"}

    async def set_status(self, status: SellerStatusChanged) -> None:
        """The status in the quota projection (what submit reads) and on the topic (what
        the processor reacts to)."""
        quota = self.runtime.quota
        assert isinstance(quota, RedisQuota)
        await quota.store.put_status(status, int(status.occurred_at.timestamp() * 1000))
        await self.runtime.publish("crm.seller-status", status, status.seller_id)

    async def announce(self, campaign: CampaignAnnounced) -> None:
        """Publish the campaign and wait until the outreach worker's calendar has it."""
        await announce(self.settings, self.runtime.redis, campaign)

    async def create(self, seller: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post("/v1/plans", json=body, headers=self.auth(seller))
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def act(self, seller: str, plan_id: str, action: str) -> httpx.Response:
        return await self.client.post(f"/v1/plans/{plan_id}/{action}", headers=self.auth(seller))

    async def get(self, seller: str, plan_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/plans/{plan_id}", headers=self.auth(seller))
        assert response.status_code == 200, response.text
        plan: dict[str, Any] = response.json()
        return plan


def one_time(send_in: timedelta = timedelta(hours=2), **fields: Any) -> dict[str, Any]:
    return {
        "type": "one_time",
        "name": "June flash sale",
        "segment_id": "repeat_customers",
        "content": {
            "default_language": "th",
            "texts": {"th": "ลดราคา {customer_name}", "en": "Sale for {customer_name}"},
            "product_ids": ["p1", "p2"],
            "button": {"type": "product_list"},
        },
        "send_at": (utc_now() + send_in).isoformat(),
        **fields,
    }


def automated(ends_in: timedelta = timedelta(days=7), **fields: Any) -> dict[str, Any]:
    now = utc_now()
    return {
        "type": "automated",
        "name": "Cart reminder",
        "segment_id": "cart_abandoners",
        "content": {"template_id": "cart_reminder", "default_language": "en"},
        "trigger": {"type": "cart_abandoned"},
        "starts_at": now.isoformat(),
        "ends_at": (now + ends_in).isoformat(),
        **fields,
    }


@asynccontextmanager
async def plans_api(
    settings: Settings,
    *,
    processor: bool = True,
    reply_timeout: float = 15.0,
    limits: ApiLimits | None = None,
) -> AsyncIterator[PlansApi]:
    outreach = OutreachSettings(reply_timeout_seconds=reply_timeout)
    async with (
        open_runtime(settings, clock=utc_now, outreach=outreach, limits=limits) as runtime,
        serving(build_app(runtime)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30.0) as client,
    ):
        api = PlansApi(settings, runtime, client)
        if processor:
            async with running_processor(settings):
                yield api
        else:
            yield api
