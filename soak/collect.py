"""What the checker reads: the committed topics (read_committed, every partition from the
start, broker timestamps) and the quota counters in Redis, decoded into checker records."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition

from schemas.dead_letter import DeadLetter
from schemas.engagement import ShopBlocked, ShopUnblocked
from schemas.outbound import OutboundMessage
from schemas.plans import Plan
from schemas.quota import CampaignQuotaReleased, CampaignQuotaReserved, QuotaReleased, QuotaReserved
from schemas.seller import SellerStatusChanged
from services.quota.port import open_quota
from services.shared.codec import decode
from services.shared.kafka import new_consumer
from services.shared.settings import Settings
from soak.checker import Change, LedgerEntry, Message, Observed, PlanFinal

TOPICS = (
    "crm.outbound-messages",
    "crm.shop-blocks",
    "crm.seller-status",
    "crm.plan-events",
    "crm.quota-ledger",
    "crm.dead-letters",
)


async def read_topic(settings: Settings, name: str) -> list[tuple[Any, datetime]]:
    """Every committed record of a topic, decoded, with its broker timestamp."""
    consumer = new_consumer(settings, group_id=None, fetch_max_wait_ms=200)
    await consumer.start()
    found: list[tuple[Any, datetime]] = []
    try:
        physical = settings.topic(name)
        partitions = consumer.partitions_for_topic(physical)
        if partitions is None:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(physical) or set()
        tps = [TopicPartition(physical, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        idle_since = asyncio.get_running_loop().time()
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                if asyncio.get_running_loop().time() - idle_since > 10:
                    break  # only transaction markers left before the end
                continue
            idle_since = asyncio.get_running_loop().time()
            for records in batch.values():
                for record in records:
                    at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
                    try:
                        found.append((decode(name, record.value), at))
                    except Exception:  # a record we cannot read is reported as such
                        found.append((None, at))
    finally:
        await consumer.stop()
    return found


async def observe(
    settings: Settings, calls: list[Any], sellers: set[str]
) -> tuple[Observed, dict[str, Any]]:
    """The checker's records of this run's sellers, and counts for the report."""
    topics = dict(
        zip(TOPICS, await asyncio.gather(*(read_topic(settings, t) for t in TOPICS)), strict=True)
    )
    messages = [
        Message(m.plan_id, m.plan_type, m.seller_id, m.customer_id, at)
        for m, at in topics["crm.outbound-messages"]
        if isinstance(m, OutboundMessage) and m.seller_id in sellers
    ]
    blocks = [
        Change((e.seller_id, e.customer_id), isinstance(e, ShopBlocked), at)
        for e, at in topics["crm.shop-blocks"]
        if isinstance(e, ShopBlocked | ShopUnblocked)
    ]
    access = [
        Change((e.seller_id,), e.access == "active", at)
        for e, at in topics["crm.seller-status"]
        if isinstance(e, SellerStatusChanged)
    ]
    latest: dict[str, Any] = {}
    for e, _at in topics["crm.plan-events"]:
        # Every change of a plan carries the plan after it (a PlanRejected carries none).
        plan = getattr(e, "plan", None)
        if (
            isinstance(plan, Plan)
            and plan.seller_id in sellers
            and (plan.plan_id not in latest or plan.version >= latest[plan.plan_id].version)
        ):
            latest[plan.plan_id] = plan
    plans = [
        PlanFinal(
            p.plan_id,
            p.seller_id,
            p.type,
            p.status,
            p.status not in ("draft", "deleted"),
            p.recipients,
            p.sent,
            dict(p.suppressed or {}),
        )
        for p in latest.values()
    ]
    ledger: list[LedgerEntry] = []
    for e, _at in topics["crm.quota-ledger"]:
        if isinstance(e, QuotaReserved | QuotaReleased):
            ledger.append(
                LedgerEntry(e.seller_id, e.plan_id, e.week, isinstance(e, QuotaReserved), e.limit)
            )
        elif isinstance(e, CampaignQuotaReserved | CampaignQuotaReleased):
            ledger.append(
                LedgerEntry(
                    e.seller_id,
                    e.plan_id,
                    f"campaign:{e.campaign_id}",
                    isinstance(e, CampaignQuotaReserved),
                    e.limit,
                )
            )
    counters = await _counters(settings, {(e.seller_id, e.counter) for e in ledger})
    dead = [
        f"{d.service} on {d.source_topic}: {d.error}"[:300]
        if isinstance(d, DeadLetter)
        else "unreadable"
        for d, _at in topics["crm.dead-letters"]
        if d is None or isinstance(d, DeadLetter)
    ]
    observed = Observed(messages, blocks, access, plans, ledger, counters, dead, calls)
    counts = {
        "messages_by_plan_type": dict(Counter(m.plan_type for m in messages)),
        "plans_by_type_and_status": dict(Counter(f"{p.type}/{p.status}" for p in plans)),
        "block_changes": len(blocks),
        "ledger_entries": len(ledger),
        "dead_letters": len(dead),
    }
    return observed, counts


async def _counters(settings: Settings, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    # Read through the quota port first, as any caller would: a slot that lost its data
    # is rebuilt from the ledger on that read; then the counters themselves.
    async with open_quota(settings) as port:
        for seller in {seller for seller, _counter in wanted}:
            await port.usage(seller, datetime.now(UTC))
        return {
            (seller, counter): await port.counter_used(seller, counter)
            for seller, counter in sorted(wanted)
        }
