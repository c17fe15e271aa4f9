"""Chapter of `crm demo`: five sellers evaluated for two months, explained, and an appeal.

Runs against the worker `crm dev up` started. The months are the current one and the
one before, in Bangkok time, so the scheduler's own tick agrees with the demo's.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import httpx
from aiokafka import TopicPartition
from rich.console import Console
from rich.table import Table

from demo.kit import caught_up
from schemas.seller import SellerStatusChanged
from schemas.topics import topic as registry_topic
from services import registry
from services.eligibility.cli import print_status
from services.eligibility.domain.calendar import add_months, month_at, window
from services.eligibility.reader import latest_status
from services.policy import policy_of
from services.policy.cli import policy_view
from services.shared import groups
from services.shared.kafka import admin_client, new_consumer, new_producer, retrying
from services.shared.settings import Settings


def _event(event_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        **fields,
    }


def _metrics(seller: str, day: date, responded: int, ses: float) -> tuple[str, dict[str, Any]]:
    return "crm.seller-metrics", _event(
        "SellerMetricsReported",
        seller_id=seller,
        market="TH",
        metrics_date=day.isoformat(),
        chats_received=100,
        chats_responded_12h=responded,
        ses=ses,
        violation_points=2,
        extra={},
    )


def _engagement(
    seller: str, month: str, delivered: int, read: int, blocked: int
) -> list[tuple[str, dict[str, Any]]]:
    start, _ = window(month)
    at = datetime.combine(start + timedelta(days=3), datetime.min.time(), tzinfo=UTC).isoformat()
    out = []
    for n in range(delivered):
        base = {
            "message_id": f"{seller}-m{n}",
            "plan_id": "demo-plan",
            "seller_id": seller,
            "customer_id": f"c{n}",
        }
        out.append(("crm.chat-engagement", _event("MessageDelivered", **base, delivered_at=at)))
        if n < read:
            out.append(("crm.chat-engagement", _event("MessageRead", **base, read_at=at)))
            out.append(
                ("crm.chat-engagement", _event("MessageRead", **base, read_at=at))
            )  # twice: one read
        if n < blocked:
            out.append(
                (
                    "crm.shop-blocks",
                    _event(
                        "ShopBlocked",
                        seller_id=seller,
                        customer_id=f"c{n}",
                        message_id=base["message_id"],
                    )
                    | {"occurred_at": at},  # blocks count in the window they happen in
                )
            )
    return out


def _story(
    run: str, previous: str, current: str
) -> tuple[dict[str, str], list[tuple[str, dict[str, Any]]]]:
    p_day, c_day = window(previous)[0] + timedelta(days=2), window(current)[0] + timedelta(days=2)
    sellers = {
        f"demo-{run}-star": "good both months, 200 delivered, 100 read, 0 blocked → level 5",
        f"demo-{run}-steady": "good both months, read 23 %, blocked 1.3 % → level 3",
        f"demo-{run}-slow": "answers 80 % of chats within 12 h → never enrolled",
        f"demo-{run}-slipped": "SES falls to 3.2 → suspended; then appeals",
        f"demo-{run}-new": "first metrics this month → newly enrolled at level 2",
    }
    star, steady, slow, slipped, new = sellers
    events = [
        _metrics(star, p_day, 95, 4.6),
        _metrics(star, c_day, 96, 4.7),
        _metrics(steady, p_day, 90, 4.0),
        _metrics(steady, c_day, 91, 4.1),
        _metrics(slow, p_day, 80, 4.5),
        _metrics(slow, c_day, 80, 4.5),
        _metrics(slipped, p_day, 92, 4.0),
        _metrics(slipped, c_day, 92, 3.2),
        _metrics(new, c_day, 99, 4.9),
        *_engagement(star, current, 200, 100, 0),
        *_engagement(steady, current, 150, 35, 2),
    ]
    return sellers, events


async def _send(settings: Settings, events: list[tuple[str, dict[str, Any]]]) -> None:
    producer = new_producer(settings)
    await producer.start()
    try:
        for topic, event in events:
            key = (event.get("seller_id") or event["market"]).encode()
            await producer.send(settings.topic(topic), json.dumps(event).encode(), key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def _ingested(settings: Settings, timeout: float = 60.0) -> None:
    if not await caught_up(settings, groups.eligibility(settings), timeout):
        raise TimeoutError("the eligibility worker is not consuming: is `crm dev up` running?")


async def _ticks_evaluated(settings: Settings) -> bool:
    """Every tick sent so far, and every partition command it fanned out, is handled."""
    group = groups.eligibility(settings)
    partitions = [
        TopicPartition(settings.topic(name), p)
        for name in ("crm.evaluation-ticks", "crm.eligibility-evaluations")
        for p in range(registry_topic(name).partitions)
    ]
    async with admin_client(settings) as client:
        committed = await retrying(partial(client.list_consumer_group_offsets, group))
    consumer = new_consumer(settings)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return all(
        end == 0 or (tp in committed and committed[tp].offset >= end) for tp, end in ends.items()
    )


async def _worker_settled(settings: Settings, timeout: float = 120.0) -> None:
    """Wait until the worker is ready and has evaluated the ticks it sends at start: one
    evaluated after this chapter's events would decide its sellers for this month first,
    and their tick for the month before would then change nothing."""
    port = registry.ops_port("eligibility", settings.ops_port_base)
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(timeout=5.0) as http:
        while True:
            try:
                ready = (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready and await _ticks_evaluated(settings):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(
                    f"the eligibility worker is not ready on :{port} or still evaluating "
                    "its ticks: is `crm dev up` running?"
                )
            await asyncio.sleep(0.5)


async def _decided(
    settings: Settings, sellers: list[str], month: str, reason: str | None = None
) -> dict[str, SellerStatusChanged]:
    found: dict[str, SellerStatusChanged] = {}
    for _ in range(120):
        for seller in sellers:
            if seller not in found:
                status = await latest_status(settings, seller)
                if (
                    status
                    and status.effective_month == month
                    and (reason is None or status.reason == reason)
                ):
                    found[seller] = status
        if len(found) == len(sellers):
            return found
        await asyncio.sleep(0.5)
    raise TimeoutError(f"no {month} status yet for {sorted(set(sellers) - set(found))}")


async def run(settings: Settings, out: Console) -> None:
    book = policy_of(settings)
    out.print(
        f"[bold]crm policy show[/bold]: policy book {book.version}, the one eligibility, "
        "quota and delivery decide with (markets with overrides: "
        f"{', '.join(sorted(book.markets)) or 'none'})"
    )
    out.print(policy_view(book.default))
    current = month_at(datetime.now(UTC), "TH")
    previous = add_months(current, -1)
    run_id = uuid.uuid4().hex[:6]
    sellers, events = _story(run_id, previous, current)
    out.print(
        f"Five TH sellers, evaluated for {previous} then {current} "
        f"(metrics windows from {window(previous)[0]} and {window(current)[0]}):"
    )
    for seller, story in sellers.items():
        out.print(f"  {seller}: {story}")
    await _worker_settled(settings)
    await _send(settings, events)
    await _ingested(settings)
    for month in (previous, current):
        await _send(
            settings,
            [("crm.evaluation-ticks", _event("EvaluationDue", market="TH", effective_month=month))],
        )
        decided = await _decided(settings, list(sellers), month)
    table = Table(
        "seller", "access", "level", "weekly quota", "failed criteria", "read / block rate"
    )
    for seller in sellers:
        s = decided[seller]
        failed = (
            ", ".join(f"{c.name} {c.note or ''}".strip() for c in s.criteria if not c.passed) or "-"
        )
        perf = (
            f"{s.performance.read_rate:.0%} / {s.performance.block_rate:.1%}"
            if s.performance
            else "-"
        )
        table.add_row(seller, s.access, str(s.level or "-"), str(s.weekly_quota), failed, perf)
    out.print(table)
    slipped = f"demo-{run_id}-slipped"
    out.print(f"[bold]crm status {slipped}[/bold] explains why:")
    print_status(out, decided[slipped])
    appeal = f"appeal-{run_id}"
    await _send(
        settings,
        [
            (
                "crm.appeals",
                _event(
                    "AppealSubmitted",
                    appeal_id=appeal,
                    seller_id=slipped,
                    account_id="owner",
                    text="SES dipped during a courier strike",
                ),
            )
        ],
    )
    await _ingested(settings)
    await _send(
        settings,
        [
            (
                "crm.appeals",
                _event(
                    "AppealDecided",
                    appeal_id=appeal,
                    seller_id=slipped,
                    approved=True,
                    decided_by="ops-demo",
                    note=None,
                ),
            )
        ],
    )
    reinstated = (await _decided(settings, [slipped], current, reason="appeal_approved"))[slipped]
    out.print(
        f"appeal approved → {slipped}: access {reinstated.access}, level {reinstated.level}, "
        f"weekly quota {reinstated.weekly_quota} (reason {reinstated.reason})"
    )
