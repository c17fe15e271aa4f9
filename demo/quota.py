"""The quota chapter of `crm demo`: weekly quota enforced in Redis, written to the
ledger, rebuilt after Redis loses everything; and the frequency cap."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from rich.console import Console
from rich.table import Table

from demo.kit import publish_status
from demo.sample_status import sample_status
from schemas.quota import QuotaReleased, QuotaReserved
from services.quota.adapter import RedisQuota, open_quota
from services.quota.ledger_topic import LEDGER_TOPIC
from services.quota.port import QuotaAnswer
from services.quota.status_projection import STATUS_TOPIC, status_consumer
from services.shared.kafka import create_topics
from services.shared.replay import replay
from services.shared.settings import Settings


async def run(settings: Settings, out: Console) -> None:
    await create_topics(settings, [STATUS_TOPIC, LEDGER_TOPIC, "crm.dead-letters"])
    run_id = uuid.uuid4().hex[:6]
    thai, american = f"demo-th-{run_id}", f"demo-us-{run_id}"
    now = datetime.now(UTC)
    async with open_quota(settings) as quota:
        # This chapter projects crm.seller-status itself, so it runs with or without
        # `crm worker quota`; both writing the same status is harmless.
        consumer = status_consumer(settings, quota.store, group_id=f"crm-demo-quota-{run_id}")
        stopping = asyncio.Event()
        projecting = asyncio.create_task(consumer.run(stopping))
        try:
            await _chapter(settings, out, quota, thai, american, now)
        finally:
            stopping.set()
            await projecting


async def _chapter(
    settings: Settings,
    out: Console,
    quota: RedisQuota,
    thai: str,
    american: str,
    now: datetime,
) -> None:
    out.print(
        f"statuses published to {STATUS_TOPIC}: {thai} level 2 (quota 3), {american} (not enrolled)"
    )
    await publish_status(settings, sample_status(thai, level=2, weekly_quota=3))
    await publish_status(
        settings,
        sample_status(american, market="US", access="not_enrolled", level=None, weekly_quota=0),
    )
    await _until(lambda: _limit_is(quota, thai, now, 3))

    answers = Table("call", "outcome", "week", "limit", "used", "left", title="weekly quota")

    def show(call: str, answer: QuotaAnswer[Any]) -> None:
        style = "green" if answer.outcome in ("reserved", "released") else "yellow"
        answers.add_row(
            call,
            f"[{style}]{answer.outcome}[/{style}]",
            answer.week or "-",
            str(answer.limit),
            str(answer.used),
            str(answer.left),
        )

    for n in range(1, 5):
        show(f"reserve plan-{n}", await quota.reserve(thai, f"{thai}-plan-{n}", "one_time", now))
    show(
        "reserve plan-1 again (retry)", await quota.reserve(thai, f"{thai}-plan-1", "one_time", now)
    )
    show("reserve an automated plan", await quota.reserve(thai, f"{thai}-auto", "automated", now))
    show("release plan-2", await quota.release(thai, f"{thai}-plan-2", "one_time", now))
    show("release plan-2 again", await quota.release(thai, f"{thai}-plan-2", "one_time", now))
    show("dispatch plan-1", await quota.mark_dispatched(thai, f"{thai}-plan-1", "one_time", now))
    show(
        "release plan-1 (dispatched)", await quota.release(thai, f"{thai}-plan-1", "one_time", now)
    )
    show(f"reserve for {american}", await quota.reserve(american, f"{american}-p", "one_time", now))
    out.print(answers)

    before = await quota.usage(thai, now)
    await publish_status(settings, sample_status(thai, level=4, weekly_quota=7))
    await _until(lambda: _limit_is(quota, thai, now, 7))
    after = await quota.usage(thai, now)
    out.print(
        f"level 2 → 4 mid-week: quota left {before.left} → [green]{after.left}[/green] at once "
        f"(limit {before.limit} → {after.limit}, used {after.used})"
    )

    caps = Table("message", "day", "outcome", title="frequency cap: 2 per customer in 7 days")
    for message, day in (("m1", 0), ("m2", 1), ("m3", 2), ("m1", 2), ("m4", 8)):
        decision = await quota.may_send(thai, "customer-1", message, now + timedelta(days=day))
        again = " (asked before: same answer)" if decision.repeated else ""
        caps.add_row(message, str(day + 1), decision.outcome + again)
    out.print(caps)

    facts = [
        f"{event.event_type} {event.plan_id} used_after={event.used_after}"
        async for _, event in replay(settings, LEDGER_TOPIC)
        if isinstance(event, QuotaReserved | QuotaReleased) and event.seller_id == thai
    ]
    out.print(f"{LEDGER_TOPIC} holds {len(facts)} facts for {thai}: " + "; ".join(facts))

    out.print("[bold]FLUSHALL[/bold]: Redis loses everything (every projection is rebuildable)")
    redis = aioredis.Redis.from_url(settings.redis_url)
    await redis.flushall()
    await redis.aclose()
    answer = await quota.reserve(thai, f"{thai}-plan-5", "one_time", now)
    report = await quota.store.last_rebuild() or {}
    out.print(
        f"the next reserve waited for a rebuild ({report.get('ledger_facts')} ledger facts, "
        f"{report.get('statuses')} statuses, {report.get('seconds')} s), then: "
        f"{answer.outcome}, used {answer.used} of {answer.limit}, left {answer.left}"
    )


async def _limit_is(quota: RedisQuota, seller_id: str, at: datetime, limit: int) -> bool:
    return (await quota.usage(seller_id, at)).limit == limit


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the seller-status projection did not catch up")
        await asyncio.sleep(0.1)
