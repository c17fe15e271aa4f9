"""The delivery chapter of `crm demo`: a send-now plan to a synthetic segment fanned out by
`crm worker delivery` (progress, the language fallback, a blocking customer suppressed),
the shop's name and each customer's name filled into the text, the chat simulator
reacting, the plan's funnel; then two more plans to the same customers
within the week: unblocked customers receive again, and the frequency cap holds the third
plan back from those who already got two."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console
from rich.table import Table

from demo.chat_simulator import ChatSimulator
from demo.kit import (
    api_answers,
    caught_up,
    publish_events,
    publish_status,
    recompute,
    seller_headers,
    until,
    until_projected,
)
from demo.sample_status import sample_status
from demo.synthetic_shop import synthetic_shop
from schemas.customer import CustomerProfileUpdated
from schemas.delivery import DeliveryProgressed
from schemas.engagement import ShopBlocked, ShopUnblocked
from schemas.envelope import Event
from schemas.markets import MARKET_TIME_ZONES
from schemas.outbound import OutboundMessage
from schemas.seller import SellerMetricsReported, ShopProfileUpdated
from schemas.topics import topic as registry_topic
from services.customers.port import customer_store, customers_redis
from services.delivery.domain.reactions import ReactionRates
from services.shared.codec import decode
from services.shared.groups import delivery_blocks as blocks_group
from services.shared.groups import delivery_shop_names as shop_names_group
from services.shared.kafka import new_consumer
from services.shared.settings import Settings

MARKET: Final = "ID"
SHOP_CUSTOMERS = 4000
SEGMENT = "followers_not_purchased"
# Every tenth customer uses the app in Javanese, which no plan here is written in.
FALLBACK_LANGUAGE = "jv"
SHOP_NAME = "Toko Batik Sari"
# Every tenth customer (ending in 1) has told the app their name; the others get
# "{customer_name}"'s fallback in their message's language.
NAMED = "Budi"
BLOCKING = 5
UNBLOCKING = 2
RATES = ReactionRates(read=0.45, click=0.10, block=0.002, fail=0.005, order=0.2)


async def run(settings: Settings, out: Console) -> None:
    run_id = uuid.uuid4().hex[:6]
    seller = f"demo-delivery-{run_id}"
    base = f"http://127.0.0.1:{settings.api_port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        if not await api_answers(http):
            out.print(f"[red]the API does not answer on {base}: run `crm dev up` first[/red]")
            return
        owner = seller_headers(settings, seller, f"{seller}-owner", "owner")
        now = datetime.now(UTC)
        await publish_status(
            settings,
            sample_status(seller, market=MARKET, level=3, weekly_quota=5, occurred_at=now),
        )
        # An enrolled seller has metrics upstream: eligibility then knows its market and
        # counts the engagement below at once, instead of parking it for a market.
        await publish_events(settings, [("crm.seller-metrics", _metrics(seller, now))])
        await publish_events(settings, [_shop_profile(seller, now)])

        out.rule(f"a synthetic shop of {SHOP_CUSTOMERS:,} customers; the segment {SEGMENT}")
        events = _shop(seller, now)
        languages = {
            e.customer_id: e.language or "-"
            for _, e in events
            if isinstance(e, CustomerProfileUpdated)
        }
        await publish_events(settings, events)
        await until_projected(settings, seller, SHOP_CUSTOMERS)
        today = now.astimezone(ZoneInfo(MARKET_TIME_ZONES[MARKET])).date()
        await recompute(settings, seller, today)
        members = await _members(settings, seller, today)
        spoken = Counter(languages[c] for c in members)
        out.print(
            f"  {len(members):,} members as of {today}; app languages "
            + ", ".join(f"{lang} {n:,}" for lang, n in spoken.most_common())
        )

        blocked = sorted(members)[:BLOCKING]
        await publish_events(settings, [_block(seller, c) for c in blocked])
        await _caught_up(settings, blocks_group(settings))
        await _caught_up(settings, shop_names_group(settings))
        out.print(f"  {BLOCKING} of them block the shop's chat: {', '.join(blocked)}")
        out.print(f"  the shop's profile (ShopProfileUpdated) names it {SHOP_NAME!r}")

        out.rule("a send-now plan: the fan-out, one committed message per recipient")
        first = await _send_now(http, owner, "Payday sale", settings, out)
        sent = await _messages(settings, first["plan_id"], first["sent"], first["submitted_at"])
        out.print(_languages_table(sent, languages))
        _show_personalized(sent, out)
        out.print(
            f"  none of the {BLOCKING} blocking customers got it: "
            f"{not {m.customer_id for m in sent} & set(blocked)}"
        )

        out.rule("the chat system reacts (simulated: `crm chat simulate`)")
        reacted = await _react(settings, first["plan_id"], first["sent"])
        out.print(
            "  "
            + ", ".join(
                f"{name} {reacted[name]:,}"
                for name in (
                    "MessageDelivered",
                    "MessageFailed",
                    "MessageRead",
                    "MessageClicked",
                    "ShopBlocked",
                    "OrderPlaced",
                )
            )
        )
        await _funnel(http, owner, first["plan_id"], reacted["MessageDelivered"], today, out)

        out.rule("the same customers again within the week: blocks and the frequency cap")
        await publish_events(settings, [_unblock(seller, c) for c in blocked[:UNBLOCKING]])
        await _caught_up(settings, blocks_group(settings))
        late_blocks = reacted["ShopBlocked"]
        out.print(
            f"  {UNBLOCKING} of the {BLOCKING} unblock the shop; {late_blocks} customer(s) "
            "blocked it after the first plan (the simulator's blocks)"
        )
        second = await _send_now(http, owner, "Payday sale: last call", settings, out)
        third = await _send_now(http, owner, "Weekend extra", settings, out)
        out.print(_suppression_table([first, second, third]))
        out.print(
            f"  second plan: the {BLOCKING - UNBLOCKING} still blocking"
            + (f" and the {late_blocks} new blockers" if late_blocks else "")
            + f" are suppressed, the {UNBLOCKING} who unblocked receive again."
        )
        out.print(
            "  third plan: at most 2 broadcasts from one shop to a customer in any 7 days, so"
            " everyone who got both is frequency_capped; only those who missed the first"
            " (blocking then) receive it."
        )


def _shop(seller: str, now: datetime) -> list[tuple[str, Event]]:
    events = list(synthetic_shop(seller, SHOP_CUSTOMERS, now, prefix=f"{seller}-c"))
    for index, (topic, event) in enumerate(events):
        if isinstance(event, CustomerProfileUpdated) and event.customer_id.endswith("0"):
            events[index] = (topic, event.model_copy(update={"language": FALLBACK_LANGUAGE}))
        elif isinstance(event, CustomerProfileUpdated) and event.customer_id.endswith("1"):
            events[index] = (topic, event.model_copy(update={"name": NAMED}))
    return events


def _shop_profile(seller: str, now: datetime) -> tuple[str, Event]:
    return "crm.seller-accounts", ShopProfileUpdated(
        event_id=uuid.uuid4(), occurred_at=now, seller_id=seller, shop_name=SHOP_NAME
    )


def _show_personalized(sent: list[OutboundMessage], out: Console) -> None:
    """One message to a named customer and one to a customer without a name, as sent."""
    named = next((m for m in sent if NAMED in m.text), None)
    unnamed = next((m for m in sent if m.language == "id" and NAMED not in m.text), None)
    for label, message in (("with a name", named), ("without one", unnamed)):
        if message is not None:
            out.print(f"  as received {label} ({message.language}): {message.text}", markup=False)


async def _members(settings: Settings, seller: str, as_of: date) -> list[str]:
    redis = customers_redis(settings)
    try:
        store = customer_store(settings, redis)
        return [c async for page in store.members(seller, SEGMENT, as_of) for c in page]
    finally:
        await redis.aclose()


def _block(seller: str, customer: str) -> tuple[str, Event]:
    return "crm.shop-blocks", ShopBlocked(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        seller_id=seller,
        customer_id=customer,
        message_id=None,
    )


def _unblock(seller: str, customer: str) -> tuple[str, Event]:
    return "crm.shop-blocks", ShopUnblocked(
        event_id=uuid.uuid4(), occurred_at=datetime.now(UTC), seller_id=seller, customer_id=customer
    )


async def _caught_up(settings: Settings, group: str) -> None:
    if not await caught_up(settings, group):
        raise RuntimeError(f"{group} is not consuming: is `crm worker delivery` running?")


async def _send_now(
    http: httpx.AsyncClient,
    owner: dict[str, str],
    name: str,
    settings: Settings,
    out: Console,
) -> dict[str, Any]:
    """Create and submit a send-now plan, show its fan-out's progress, and return the
    completed plan."""
    body = {
        "type": "one_time",
        "name": name,
        "segment_id": SEGMENT,
        "content": {
            "default_language": "id",
            "texts": {
                "id": f"Hai {{customer_name}}, {name} di {{shop_name}}: diskon 10% dengan "
                "kupon {coupon}, hari ini saja!",
                "en": f"Hi {{customer_name}}, {name} at {{shop_name}}: 10% off with "
                "coupon {coupon}, today only!",
            },
            "product_ids": ["p-3", "p-7"],
            "coupon_id": "payday-10",
            "button": {"type": "coupon"},
        },
        "send_now": True,
    }
    created = (await http.post("/v1/plans", json=body, headers=owner)).json()
    progress = await _progress_consumer(settings)
    try:
        submitted = (
            await http.post(f"/v1/plans/{created['plan_id']}/submit", headers=owner)
        ).json()
        out.print(f"  '{name}': submitted → {submitted['status']}")
        await _show_progress(progress, created["plan_id"], out)
    finally:
        await progress.stop()
    done: dict[str, Any] = await until(
        http,
        f"/v1/plans/{created['plan_id']}",
        owner,
        lambda b: b["status"] == "completed",
        timeout=120,
    )
    suppressed = ", ".join(f"{k} {v:,}" for k, v in done["suppressed"].items() if v) or "none"
    out.print(
        f"  → completed: {done['recipients']:,} recipients, {done['sent']:,} sent,"
        f" suppressed {suppressed}"
    )
    return done


async def _progress_consumer(settings: Settings) -> AIOKafkaConsumer:
    """crm.delivery-progress from its current end: what the next fan-out records."""
    consumer = new_consumer(settings, group_id=None, fetch_max_wait_ms=100)
    await consumer.start()
    name = settings.topic("crm.delivery-progress")
    partitions = [
        TopicPartition(name, p) for p in range(registry_topic("crm.delivery-progress").partitions)
    ]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)  # resolves the end now, before the plan is submitted
    return consumer


async def _show_progress(consumer: AIOKafkaConsumer, plan_id: str, out: Console) -> None:
    deadline = asyncio.get_running_loop().time() + 120
    while asyncio.get_running_loop().time() < deadline:
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for record in records:
                progress = decode("crm.delivery-progress", record.value)
                if not isinstance(progress, DeliveryProgressed) or progress.plan_id != plan_id:
                    continue
                handled = progress.sent + sum(progress.suppressed.values())
                out.print(
                    f"    fan-out: {handled:,} of {progress.recipients:,} handled,"
                    f" {progress.sent:,} sent (up to {progress.last_customer_id})"
                    + (" — done" if progress.done else "")
                )
                if progress.done:
                    return


async def _messages(
    settings: Settings, plan_id: str, expected: int, since: str
) -> list[OutboundMessage]:
    """The plan's messages on crm.outbound-messages as the chat system sees them
    (read_committed), from the submit on."""
    spec = registry_topic("crm.outbound-messages")
    consumer = new_consumer(settings, group_id=None, fetch_max_wait_ms=100)
    await consumer.start()
    found: list[OutboundMessage] = []
    try:
        partitions = [TopicPartition(settings.topic(spec.name), p) for p in range(spec.partitions)]
        consumer.assign(partitions)
        since_ms = int(datetime.fromisoformat(since).timestamp() * 1000) - 1000
        starts = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
        for tp in partitions:
            at = starts.get(tp)
            if at is None:
                await consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, at.offset)
        deadline = asyncio.get_running_loop().time() + 60
        while len(found) < expected and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    message = decode(spec.name, record.value)
                    if isinstance(message, OutboundMessage) and message.plan_id == plan_id:
                        found.append(message)
    finally:
        await consumer.stop()
    return found


def _languages_table(messages: Iterable[OutboundMessage], languages: dict[str, str]) -> Table:
    pairs = Counter((languages.get(m.customer_id, "-"), m.language) for m in messages)
    table = Table("customer's app language", "message sent in", "messages", "why")
    for (spoken, sent), count in sorted(pairs.items()):
        why = "the plan has it" if spoken == sent else "not in the plan: its default"
        table.add_row(spoken, sent, f"{count:,}", why)
    return table


async def _react(settings: Settings, plan_id: str, sent: int) -> Counter[str]:
    """The chat system, simulated in this process, until it has reacted to the plan."""
    simulator = ChatSimulator(settings, RATES, lambda: datetime.now(UTC), currency="IDR")
    stop = asyncio.Event()
    task = asyncio.create_task(simulator.run(stop))
    try:
        for _ in range(240):
            if task.done() or simulator.by_plan[plan_id]["messages"] >= sent:
                break
            await asyncio.sleep(0.25)
    finally:
        stop.set()
        await task
    # The blocks it reported reach delivery's projection before the next plan.
    await _caught_up(settings, blocks_group(settings))
    return simulator.by_plan[plan_id]


async def _funnel(
    http: httpx.AsyncClient,
    owner: dict[str, str],
    plan_id: str,
    delivered: int,
    today: date,
    out: Console,
) -> None:
    # The worker's performance projection follows the chat system's events within
    # moments; wait until it has counted what the simulator delivered.
    performance: dict[str, Any] = {}
    for _ in range(120):
        plan = (await http.get(f"/v1/plans/{plan_id}", headers=owner)).json()
        performance = plan.get("performance") or {}
        if performance.get("delivered", 0) >= delivered:
            break
        await asyncio.sleep(0.25)
    funnel = {k: v for k, v in performance.items() if k != "suppressed"}
    table = Table(*funnel.keys())
    table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in funnel.values()))
    out.print("  GET /v1/plans/{id} → performance")
    out.print(table)
    overview = await http.get(
        "/v1/overview",
        params={"from": today.isoformat(), "to": today.isoformat()},
        headers=owner,
    )
    if overview.status_code == 200:
        out.print(f"  GET /v1/overview → {overview.json().get('funnel')}")
    else:
        out.print(f"  GET /v1/overview → {overview.status_code}: not served yet")


def _suppression_table(plans: list[dict[str, Any]]) -> Table:
    table = Table("plan", "recipients", "sent", "blocked", "frequency_capped")
    for p in plans:
        table.add_row(
            p["name"],
            f"{p['recipients']:,}",
            f"{p['sent']:,}",
            f"{p['suppressed'].get('blocked', 0):,}",
            f"{p['suppressed'].get('frequency_capped', 0):,}",
        )
    return table


def _metrics(seller: str, now: datetime) -> SellerMetricsReported:
    yesterday = now.astimezone(ZoneInfo(MARKET_TIME_ZONES[MARKET])).date() - timedelta(days=1)
    return SellerMetricsReported(
        event_id=uuid.uuid4(),
        occurred_at=now,
        seller_id=seller,
        market=MARKET,
        metrics_date=yesterday,
        chats_received=80,
        chats_responded_12h=78,
        ses=4.7,
        violation_points=0,
    )
