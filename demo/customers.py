"""The customers chapter of `crm demo`: a synthetic shop in Indonesia publishes its
customers' history, `crm worker customers` projects it, the daily recompute gives the
segment sizes the API shows, a custom segment (the SPEC's Java example) is previewed and
saved, and an automated plan fires for customers whose carts wait too long."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.table import Table

from demo.kit import (
    api_answers,
    create_plan,
    publish_events,
    publish_status,
    recompute,
    seller_headers,
    until_projected,
)
from demo.sample_status import sample_status
from demo.synthetic_shop import synthetic_shop
from schemas.customer import CartAdded, OrderPlaced, ShopFollowed
from schemas.envelope import Event
from schemas.markets import MARKET_TIME_ZONES
from schemas.segments import AutomatedPlanFired
from services.shared.codec import decode
from services.shared.kafka import new_consumer
from services.shared.settings import Settings

SHOP_CUSTOMERS = 3000
JAVA_BUYERS = [
    {"field": "region", "op": "in", "value": ["JK", "JB", "JT", "JI", "YO", "BT"]},
    {"field": "is_follower", "op": "is_true", "value": None},
    {"field": "order_count", "op": "eq", "value": 0},
]


async def run(settings: Settings, out: Console) -> None:
    run_id = uuid.uuid4().hex[:6]
    seller = f"demo-id-shop-{run_id}"
    base = f"http://127.0.0.1:{settings.api_port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        if not await api_answers(http):
            out.print(f"[red]the API does not answer on {base}: run `crm dev up` first[/red]")
            return
        owner = seller_headers(settings, seller, f"{seller}-owner", "owner")
        now = datetime.now(UTC)
        await publish_status(settings, sample_status(seller, market="ID", level=2, occurred_at=now))

        out.rule(f"a synthetic shop: {SHOP_CUSTOMERS} customers' history, published upstream")
        events = list(synthetic_shop(seller, SHOP_CUSTOMERS, now))
        await publish_events(settings, events)
        out.print(f"  {len(events)} events on crm.customer-activity and crm.customer-profiles")
        await until_projected(settings, seller, SHOP_CUSTOMERS)
        out.print("  projected by `crm worker customers` into Redis")

        out.rule("daily membership as of yesterday (recomputed at 00:00 market-local)")
        today = now.astimezone(ZoneInfo(MARKET_TIME_ZONES["ID"])).date()
        await recompute(settings, seller, today)
        listing = (await http.get("/v1/segments", headers=owner)).json()["items"]
        out.print(_segments_table(listing))

        out.rule("a custom segment: potential buyers in Java (SPEC section 5)")
        preview = await http.post(
            "/v1/segments/preview", json={"conditions": JAVA_BUYERS}, headers=owner
        )
        out.print(f"  preview of 3 conditions → {preview.json()}")
        two = await http.post(
            "/v1/segments/preview", json={"conditions": JAVA_BUYERS[:2]}, headers=owner
        )
        out.print(f"  preview of 2 conditions → {two.json()}")
        created = await http.post(
            "/v1/segments",
            json={"name": "Java potential buyers", "conditions": JAVA_BUYERS},
            headers=owner,
        )
        segment = created.json()
        out.print(f"  POST /v1/segments → {created.status_code} {segment['segment_id']}")
        bad = await http.post(
            "/v1/segments",
            json={"name": "broken", "conditions": [{"field": "shoe_size", "op": "eq", "value": 1}]},
            headers=owner,
        )
        out.print(f"  an unknown field → {bad.status_code} {bad.json().get('errors')}")
        await recompute(settings, seller, today)
        mine = (await http.get(f"/v1/segments/{segment['segment_id']}", headers=owner)).json()
        out.print(f"  after the recompute: size {mine['size']} as of {mine['as_of']}")

        out.rule("automated plans firing: a cart reminder and a welcome for new followers")
        await _automated_plans(settings, http, owner, seller, out)


async def _automated_plans(
    settings: Settings, http: httpx.AsyncClient, owner: dict[str, str], seller: str, out: Console
) -> None:
    now = datetime.now(UTC)
    cart = await create_plan(
        http, owner, _automated("Cart reminder", {"type": "cart_abandoned", "after_hours": 1}, now)
    )
    cart = (await http.post(f"/v1/plans/{cart['plan_id']}/submit", headers=owner)).json()
    welcome = await create_plan(
        http,
        owner,
        _automated("Welcome", {"type": "new_follower"}, now, "followers_not_purchased"),
    )
    welcome = (await http.post(f"/v1/plans/{welcome['plan_id']}/submit", headers=owner)).json()
    out.print(f"  '{cart['name']}' (cart_abandoned after 1 h): {cart['status']}")
    out.print(
        f"  '{welcome['name']}' (new_follower, segment followers_not_purchased):"
        f" {welcome['status']}"
    )
    await asyncio.sleep(1)  # the trigger engine learns of the plans from crm.plan-events

    # Carts added 59 min 52 s ago come due in 8 s; one of those customers orders meanwhile.
    added = now - timedelta(minutes=59, seconds=52)
    fresh: list[tuple[str, Event]] = []
    for n in range(4):
        fresh.append(("crm.customer-activity", _cart(seller, f"cart-{n}", added)))
    fresh.append(("crm.customer-activity", _order(seller, "cart-3", now)))
    followed = datetime.now(UTC)  # after the plans went live: they welcome new followers only
    for n in range(2):
        fresh.append(("crm.customer-activity", _follow(seller, f"fan-{n}", followed)))
    # A buyer who follows now is outside the welcome plan's segment at that moment.
    fresh.append(("crm.customer-activity", _order(seller, "buyer-fan", now - timedelta(days=1))))
    fresh.append(("crm.customer-activity", _follow(seller, "buyer-fan", followed)))
    await publish_events(settings, fresh)
    out.print(
        "  published: 4 cart adds due in 8 s (cart-3 then orders), 3 new followers (buyer-fan"
        " ordered yesterday); waiting for crm.plan-firings …"
    )
    firings = await _firings(settings, seller, expected=5, timeout=40)
    table = Table("plan", "customer", "trigger", "due at")
    names = {cart["plan_id"]: cart["name"], welcome["plan_id"]: welcome["name"]}
    for f in sorted(firings, key=lambda f: (f.due_at, f.customer_id)):
        table.add_row(
            names.get(f.plan_id, f.plan_id), f.customer_id, f.trigger.type, f.due_at.isoformat()
        )
    out.print(table)
    out.print(
        f"  {len(firings)} firings, each (plan, customer) once; cart-3 ordered so it got none;"
        " buyer-fan is no follower-who-never-bought, so no welcome (segments are judged at the"
        " firing moment); delivery turns each into one message"
    )
    ongoing = (await http.get(f"/v1/plans/{cart['plan_id']}", headers=owner)).json()
    out.print(f"  '{ongoing['name']}' stays {ongoing['status']} until its timeframe ends")


def _automated(
    name: str, trigger: dict[str, Any], now: datetime, segment_id: str = "cart_abandoners"
) -> dict[str, Any]:
    return {
        "type": "automated",
        "name": name,
        "segment_id": segment_id,
        "content": {"default_language": "id", "texts": {"id": "Masih tertarik?", "en": "Still?"}},
        "trigger": trigger,
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=7)).isoformat(),
    }


def _cart(seller: str, customer: str, at: datetime) -> CartAdded:
    return CartAdded(
        event_id=uuid.uuid4(),
        occurred_at=at,
        seller_id=seller,
        customer_id=customer,
        product_id="p1",
    )


def _order(seller: str, customer: str, at: datetime) -> OrderPlaced:
    return OrderPlaced(
        event_id=uuid.uuid4(),
        occurred_at=at,
        seller_id=seller,
        customer_id=customer,
        order_id=f"{customer}-o1",
        gmv=250_000.0,
        currency="IDR",
        product_ids=["p1"],
    )


def _follow(seller: str, customer: str, at: datetime) -> ShopFollowed:
    return ShopFollowed(
        event_id=uuid.uuid4(), occurred_at=at, seller_id=seller, customer_id=customer
    )


def _segments_table(items: list[dict[str, Any]]) -> Table:
    table = Table("segment", "built-in", "size", "as of")
    for s in items:
        table.add_row(s["segment_id"], "yes" if s["builtin"] else "", str(s["size"]), s["as_of"])
    return table


async def _firings(
    settings: Settings, seller: str, expected: int, timeout: float
) -> list[AutomatedPlanFired]:
    consumer = new_consumer(settings, "crm.plan-firings", group_id=None)
    await consumer.start()
    found: dict[tuple[str, str], AutomatedPlanFired] = {}
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(found) < expected and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    event = decode("crm.plan-firings", record.value)
                    if isinstance(event, AutomatedPlanFired) and event.seller_id == seller:
                        found[(event.plan_id, event.customer_id)] = event
    finally:
        await consumer.stop()
    return list(found.values())
