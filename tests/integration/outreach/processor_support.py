"""An in-process plan processor and gateway on this test's topics and Redis prefix."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.plans import Plan, PlanCommandAnswered, PlanContent, PlanDraft
from services.outreach.gateway import PlanGateway
from services.outreach.handlers import Handlers, PlanCommand
from services.outreach.processor import PlanProcessor
from services.outreach.read_model import PlanReadModel, plan_read_model
from services.quota.adapter import RedisQuota, open_quota
from services.shared.settings import Settings
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
        processor = PlanProcessor(
            settings, Handlers(quota), plan_read_model(quota.store.redis, settings)
        )
        stopping = asyncio.Event()
        task = asyncio.create_task(processor.run(stopping))
        try:
            await asyncio.wait_for(processor.loaded.wait(), 60)
            yield processor
        finally:
            stopping.set()
            await task


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
