"""`crm worker outreach`: the plan processor (single writer of plans, scheduler of
dispatches) and the projections the API and the processor read (permissions from
crm.seller-accounts, appeals from crm.appeals, the campaign calendar from
crm.campaigns), with /healthz, /readyz and /metrics on CRM_OPS_PORT."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

import structlog

from services.customers.port import customer_store
from services.outreach.appeals import appeals_consumer
from services.outreach.campaigns import campaign_calendar, campaigns_consumer
from services.outreach.handlers import Handlers
from services.outreach.healing import appeals_guard, guarded, permissions_guard
from services.outreach.permissions import permissions_consumer
from services.outreach.processor import PlanProcessor
from services.outreach.read_model import plan_read_model
from services.outreach.segment_ids import live_segment_ids
from services.quota.port import open_quota
from services.shared import groups
from services.shared.clock import utc_now
from services.shared.heap import collect_young_garbage_less_often, freeze_what_lives_forever
from services.shared.kafka import ensure_topics
from services.shared.serving import serving_ops
from services.shared.settings import Settings
from services.shared.signals import run_until_signalled

log = structlog.get_logger(__name__)

SERVICE = "outreach"
# What the worker reads or writes; each exists before it consumes.
TOPICS = (
    "crm.plan-commands",
    "crm.plan-events",
    "crm.plan-replies",
    "crm.seller-status",
    "crm.seller-accounts",
    "crm.appeals",
    "crm.campaigns",
    "crm.quota-ledger",
    "crm.dead-letters",
)
# Test hook: the processor kills itself with SIGKILL at this point of its first pass
# (after_quota, before_commit), to show a crash there loses and duplicates nothing.
CRASH_POINT_ENV = "CRM_OUTREACH_CRASH_POINT"


def main(settings: Settings) -> None:
    run_until_signalled(SERVICE, settings, run)


def _crash_at(point: str | None) -> Callable[[str], None]:
    def checkpoint(name: str) -> None:
        if name == point:
            log.warning("crashing_on_purpose", point=name)
            os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint


async def run(settings: Settings, stopping: asyncio.Event) -> None:
    collect_young_garbage_less_often()
    await ensure_topics(settings, TOPICS, service=SERVICE)
    async with open_quota(settings) as quota:
        redis = quota.store.redis
        # Customers' segment definitions live in the same Redis, under its own prefix.
        customers = customer_store(settings, redis)
        handlers = Handlers(
            quota,
            campaign_calendar(settings, redis),
            live_segment_ids(customers),
            checkpoint=_crash_at(os.environ.get(CRASH_POINT_ENV)),
        )
        processor = PlanProcessor(
            settings, handlers, plan_read_model(redis, settings), clock=utc_now
        )

        # Both refold themselves when Redis lost them (services/outreach/healing.py).
        guards = [
            permissions_guard(settings, redis, groups.outreach_permissions(settings)),
            appeals_guard(settings, redis, groups.outreach_appeals(settings)),
        ]
        permissions = guarded(
            permissions_consumer(settings, redis, groups.outreach_permissions(settings)), guards[0]
        )
        appeals = guarded(
            appeals_consumer(settings, redis, groups.outreach_appeals(settings)), guards[1]
        )
        campaigns = campaigns_consumer(settings, redis, groups.outreach_campaigns(settings))
        freeze_what_lives_forever()

        async with (
            serving_ops(
                SERVICE,
                settings,
                plans_loaded=processor.loaded.is_set,
                projections=lambda: permissions.ready and appeals.ready and campaigns.ready,
            ),
            asyncio.TaskGroup() as tasks,
        ):
            tasks.create_task(processor.run(stopping))
            tasks.create_task(permissions.run(stopping))
            tasks.create_task(appeals.run(stopping))
            tasks.create_task(campaigns.run(stopping))
            for guard in guards:
                tasks.create_task(guard.watch(stopping))
