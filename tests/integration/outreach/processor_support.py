"""An in-process plan processor and gateway on this test's topics and Redis prefix."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from schemas.campaigns import CampaignAnnounced
from schemas.plans import Plan, PlanCommandAnswered, PlanContent, PlanDraft
from services.customers.port import customer_store
from services.outreach.campaigns import campaign_calendar, campaigns_consumer
from services.outreach.gateway import PlanGateway
from services.outreach.handlers import Handlers, PlanCommand
from services.outreach.processor import PlanProcessor
from services.outreach.read_model import PlanReadModel, plan_read_model
from services.outreach.segment_ids import live_segment_ids
from services.quota.adapter import RedisQuota, open_quota
from services.shared import groups
from services.shared.codec import encode
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from tests.integration.outreach.support import eventually
from tests.integration.quota_support import projecting
from tests.quota_contract import SetStatus

OUTREACH_TOPICS = (
    "crm.plan-commands",
    "crm.plan-events",
    "crm.plan-replies",
    "crm.seller-status",
    "crm.quota-ledger",
    "crm.dead-letters",
    "crm.seller-accounts",
    "crm.appeals",
    "crm.campaigns",
)


def now() -> datetime:
    return datetime.now(UTC)


def one_time_draft(send_in: timedelta = timedelta(hours=1), **fields: Any) -> PlanDraft:
    values: dict[str, Any] = {
        "type": "one_time",
        "name": "June flash sale",
        "segment_id": "repeat_customers",
        "content": PlanContent(default_language="th", texts={"th": "ลดราคา", "en": "Sale"}),
        "send_at": now() + send_in,
    }
    return PlanDraft(**{**values, **fields})


def automated_draft(**fields: Any) -> PlanDraft:
    values: dict[str, Any] = {
        "type": "automated",
        "name": "Cart reminder",
        "segment_id": "cart_abandoners",
        "content": PlanContent(default_language="en", texts={"en": "Still thinking?"}),
        "trigger": {"type": "cart_abandoned"},
        "starts_at": now() - timedelta(minutes=1),
        "ends_at": now() + timedelta(days=7),
    }
    return PlanDraft.model_validate({**values, **fields})


def campaign(
    campaign_id: str,
    *,
    starts_in: timedelta = -timedelta(hours=1),
    lasts: timedelta = timedelta(days=2),
    markets: tuple[str, ...] = ("TH", "ID"),
    plans_per_seller: int = 1,
) -> CampaignAnnounced:
    starts_at = now() + starts_in
    return CampaignAnnounced.model_validate(
        {
            "event_id": uuid.uuid4(),
            "occurred_at": now(),
            "campaign_id": campaign_id,
            "name": f"Campaign {campaign_id}",
            "markets": list(markets),
            "starts_at": starts_at,
            "ends_at": starts_at + lasts,
            "plans_per_seller": plans_per_seller,
        }
    )


async def announce(settings: Settings, redis: aioredis.Redis, campaign: CampaignAnnounced) -> None:
    """Publish the campaign on crm.campaigns and wait until the calendar the processor
    reads has it (the campaigns consumer beside the processor projects it)."""
    producer = new_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic("crm.campaigns"), encode(campaign), key=campaign.campaign_id.encode()
        )
    finally:
        await producer.stop()
    calendar = campaign_calendar(settings, redis)

    async def known() -> bool:
        return await calendar.stored(campaign.campaign_id) == campaign

    assert await eventually(known, timeout=20), f"{campaign.campaign_id} never projected"


def command(cls: type[PlanCommand], seller: str, plan_id: str, **fields: Any) -> PlanCommand:
    return cls(
        event_id=uuid.uuid4(),
        occurred_at=now(),
        correlation_id=uuid.uuid4(),
        seller_id=seller,
        account_id=f"{seller}-owner",
        plan_id=plan_id,
        **fields,
    )


@dataclass
class Outreach:
    settings: Settings
    quota: RedisQuota
    gateway: PlanGateway
    read_model: PlanReadModel
    set_status: SetStatus

    async def send(
        self, cls: type[PlanCommand], seller: str, plan_id: str, **fields: Any
    ) -> PlanCommandAnswered:
        return await self.gateway.send(command(cls, seller, plan_id, **fields))

    async def plan(self, cls: type[PlanCommand], seller: str, plan_id: str, **fields: Any) -> Plan:
        answer = await self.send(cls, seller, plan_id, **fields)
        assert answer.outcome == "applied", answer
        assert answer.plan is not None
        return answer.plan


@asynccontextmanager
async def running_processor(settings: Settings) -> AsyncIterator[PlanProcessor]:
    async with open_quota(settings) as quota:
        redis = quota.store.redis
        calendar = campaign_calendar(settings, redis)
        customers = customer_store(settings, redis)
        processor = PlanProcessor(
            settings,
            Handlers(quota, calendar, live_segment_ids(customers)),
            plan_read_model(redis, settings),
        )
        # As the worker runs it: the campaign calendar beside the processor.
        group = groups.outreach_campaigns(settings)
        campaigns = campaigns_consumer(settings, redis, group)
        stopping = asyncio.Event()
        task = asyncio.create_task(processor.run(stopping))
        campaigns_task = asyncio.create_task(campaigns.run(stopping))
        try:
            await asyncio.wait_for(processor.loaded.wait(), 60)
            yield processor
        finally:
            stopping.set()
            await task
            await campaigns_task


@asynccontextmanager
async def outreach_stack(settings: Settings, *, processor: bool = True) -> AsyncIterator[Outreach]:
    async with open_quota(settings) as quota:
        gateway = PlanGateway(settings, timeout=15)
        await gateway.start()
        try:
            outreach = Outreach(
                settings,
                quota,
                gateway,
                plan_read_model(quota.store.redis, settings),
                projecting(quota),
            )
            if processor:
                async with running_processor(settings):
                    yield outreach
            else:
                yield outreach
        finally:
            await gateway.stop()
