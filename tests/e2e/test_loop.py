"""End to end through the real broker and Redis, every service its own process:
metrics → eligibility → plan via the API → quota → dispatch → outbound messages →
engagement → the next month's level.

Months: the seller is first decided for last month M (newly enrolled: level 2), and
then for this month M+1, whose window [22nd of M−1, 22nd of M) is closed. The chat
simulator's clock is placed inside that window, so the engagement with this test's
real messages is what the M+1 decision measures.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from demo.chat_simulator import ChatSimulator
from schemas.customer import CustomerProfileUpdated, ShopFollowed
from schemas.envelope import Event
from schemas.outbound import OutboundMessage
from schemas.seller import EvaluationDue, SellerMetricsReported
from schemas.topics import ALL_TOPICS
from services.customers.port import customer_store, customers_redis, recompute_seller
from services.delivery.domain.reactions import ReactionRates
from services.eligibility.domain.calendar import add_months, month_at, window
from services.shared.codec import decode
from services.shared.kafka import new_consumer
from services.shared.settings import Settings
from tests.e2e.pipeline import Pipeline, eventually, running_pipeline

MARKET = "TH"
BANGKOK = ZoneInfo("Asia/Bangkok")
CUSTOMERS = 150
# Well above the level-5 line (read rate ≥ 0.40): the shares are per-message hashes,
# so 150 messages land within a few points of the rate.
RATES = ReactionRates(read=0.6, click=0.2, block=0.0, fail=0.0, order=0.3)
WEEKLY_QUOTA = {1: 1, 2: 3, 3: 5, 4: 7, 5: 10}


def spec_level(delivered: int, read: int, blocked: int, previous: int) -> int:
    """SPEC section 4's default level table, written out independently of the engine."""
    if delivered < 100:
        return previous
    read_rate, block_rate = read / delivered, blocked / delivered
    if block_rate >= 0.03 or read_rate < 0.10:
        return 1
    if read_rate >= 0.40 and block_rate < 0.005:
        return 5
    if read_rate >= 0.30 and block_rate < 0.010:
        return 4
    if read_rate >= 0.20 and block_rate < 0.015:
        return 3
    return 2


def _at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=BANGKOK)


def _metrics(seller: str, day: date) -> SellerMetricsReported:
    return SellerMetricsReported(
        event_id=uuid.uuid4(),
        occurred_at=_at(day),
        seller_id=seller,
        market=MARKET,
        metrics_date=day,
        chats_received=120,
        chats_responded_12h=114,
        ses=4.6,
        violation_points=1,
        extra={},
    )


def _tick(month: str) -> EvaluationDue:
    return EvaluationDue(
        event_id=uuid.uuid4(), occurred_at=datetime.now(UTC), market=MARKET, effective_month=month
    )


def _customers(seller: str, now: datetime) -> list[Event]:
    """Followers who never ordered, two days ago (before "as of today"); a third use English,
    the rest Thai."""
    followed = now - timedelta(days=2)
    events: list[Event] = []
    for n in range(CUSTOMERS):
        customer = f"{seller}-c{n:04d}"
        events.append(
            CustomerProfileUpdated(
                event_id=uuid.uuid4(),
                occurred_at=followed,
                customer_id=customer,
                region="10",
                city=None,
                gender=None,
                age_band=None,
                language="en" if n % 3 == 0 else "th",
            )
        )
        events.append(
            ShopFollowed(
                event_id=uuid.uuid4(), occurred_at=followed, seller_id=seller, customer_id=customer
            )
        )
    return events


async def _segment_ready(settings: Settings, seller: str, today: date) -> None:
    """The customers worker projected every follower and knows the seller's market; then
    the day's memberships are recomputed (the daily job's work, done now)."""
    redis = customers_redis(settings)
    try:
        store = customer_store(settings, redis)

        async def projected() -> bool:
            return await store.customer_count(seller) >= CUSTOMERS and (
                await store.market(seller) == MARKET
            )

        assert await eventually(projected, 60), "the customers worker did not project the shop"
        done = await recompute_seller(settings, redis, seller, today)
        assert not done.skipped, done.skipped
    finally:
        await redis.aclose()


async def _outbound(settings: Settings, plan_id: str, expected: int) -> list[OutboundMessage]:
    """crm.outbound-messages as the chat system sees it (read_committed), this plan's,
    until `expected` arrived and then nothing more for 3 s."""
    consumer = new_consumer(settings, "crm.outbound-messages", group_id=None, fetch_max_wait_ms=100)
    await consumer.start()
    found: list[OutboundMessage] = []
    try:
        deadline = asyncio.get_running_loop().time() + 120
        while asyncio.get_running_loop().time() < deadline:
            wait = 3000 if len(found) >= expected else 1000
            batch = await consumer.getmany(timeout_ms=wait)
            if not batch and len(found) >= expected:
                break
            for records in batch.values():
                for record in records:
                    message = decode("crm.outbound-messages", record.value)
                    assert isinstance(message, OutboundMessage)
                    if message.plan_id == plan_id:
                        found.append(message)
    finally:
        await consumer.stop()
    return found


async def _react(settings: Settings, clock: datetime, expected: int) -> Counter[str]:
    """The chat system reacts to every message, as if at `clock`."""
    simulator = ChatSimulator(settings, RATES, lambda: clock)
    stop = asyncio.Event()
    task = asyncio.create_task(simulator.run(stop))
    try:

        async def handled() -> bool:
            if task.done():
                task.result()
            return simulator.counts["messages"] >= expected

        assert await eventually(handled, 60), f"the simulator handled {simulator.counts}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    return simulator.counts


async def _send_now_plan(pipeline: Pipeline, seller: str) -> dict[str, Any]:
    owner = pipeline.owner(seller)
    body = {
        "type": "one_time",
        "name": "Loop: followers who never bought",
        "segment_id": "followers_not_purchased",
        "content": {
            "default_language": "th",
            "texts": {"th": "ลดราคาวันนี้เท่านั้น", "en": "Today only: 20% off"},
            "product_ids": ["p-1", "p-2"],
            "coupon_id": None,
            "button": {"type": "product_list"},
        },
        "send_now": True,
    }
    created = await pipeline.http.post("/v1/plans", json=body, headers=owner)
    assert created.status_code == 201, created.text
    plan_id = created.json()["plan_id"]
    submitted = await pipeline.http.post(f"/v1/plans/{plan_id}/submit", headers=owner)
    assert submitted.status_code == 200, submitted.text
    answer: dict[str, Any] = submitted.json()
    assert (answer["status"], answer["reason"]) == ("sending", None), answer
    return answer


async def test_engagement_with_sent_messages_sets_the_next_months_level(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*(spec.name for spec in ALL_TOPICS))
    now = datetime.now(UTC)
    this_month = month_at(now, MARKET)
    last_month = add_months(this_month, -1)
    seller = f"loop-{uuid.uuid4().hex[:8]}"
    today = now.astimezone(BANGKOK).date()

    async with running_pipeline(settings, tmp_path) as pipeline:
        # 1. metrics in both months' windows → eligible; last month's tick enrols the seller.
        await pipeline.publish(
            [
                _metrics(seller, window(last_month)[0] + timedelta(days=2)),
                _metrics(seller, window(this_month)[0] + timedelta(days=2)),
            ]
        )
        await pipeline.caught_up("eligibility")
        await pipeline.publish([_tick(last_month)])
        enrolled = await pipeline.status(seller, last_month)
        assert (enrolled.access, enrolled.eligible, enrolled.level) == ("active", True, 2)
        assert enrolled.weekly_quota == WEEKLY_QUOTA[2]
        owner = pipeline.owner(seller)
        shop = await pipeline.until(
            "/v1/shop/status", owner, lambda b: b["access"] == "active" and b["level"] == 2
        )
        assert (shop["weekly_quota"], shop["quota_used"]) == (3, 0)

        # 2. customers: followers who never bought, in the day's memberships.
        await pipeline.publish(_customers(seller, now))
        await _segment_ready(settings, seller, today)
        segment = await pipeline.until(
            "/v1/segments/followers_not_purchased", owner, lambda b: b["size"] == CUSTOMERS
        )
        assert segment["as_of"] == today.isoformat()

        # 3. a send-now plan through the API: quota taken, dispatched at once.
        plan = await _send_now_plan(pipeline, seller)
        plan_id = plan["plan_id"]
        shop = await pipeline.http.get("/v1/shop/status", headers=owner)
        assert (shop.json()["quota_used"], shop.json()["quota_left"]) == (1, 2)

        # 4. delivery: one committed message per follower, in the follower's language.
        messages = await _outbound(settings, plan_id, CUSTOMERS)
        per_customer = Counter(m.customer_id for m in messages)
        assert set(per_customer) == {f"{seller}-c{n:04d}" for n in range(CUSTOMERS)}
        assert set(per_customer.values()) == {1}, "a (plan, customer) sent more than once"
        languages = Counter(m.language for m in messages)
        assert languages == {"en": CUSTOMERS // 3, "th": CUSTOMERS - CUSTOMERS // 3}
        assert all(m.text == "Today only: 20% off" for m in messages if m.language == "en")
        assert {(m.seller_id, m.plan_type, m.button and m.button.type) for m in messages} == {
            (seller, "one_time", "product_list")
        }
        completed = await pipeline.until(
            f"/v1/plans/{plan_id}", owner, lambda b: b["status"] == "completed"
        )
        assert (completed["recipients"], completed["sent"]) == (CUSTOMERS, CUSTOMERS)
        assert not any(completed["suppressed"].values()), completed["suppressed"]

        # 5. the chat system reacts, inside this month's evaluation window.
        engaged_at = _at(window(this_month)[0] + timedelta(days=3))
        counts = await _react(settings, engaged_at, CUSTOMERS)
        delivered, read = counts["MessageDelivered"], counts["MessageRead"]
        assert (delivered, counts["ShopBlocked"]) == (CUSTOMERS, 0)
        assert read / delivered >= 0.40, "the simulated read rate must reach level 5's line"
        await pipeline.caught_up("eligibility")

        # 6. this month's tick: the level the SPEC table gives for those rates.
        await pipeline.publish([_tick(this_month)])
        decided = await pipeline.status(seller, this_month)
        level = spec_level(delivered, read, 0, previous=2)
        assert level == 5
        assert (decided.access, decided.level, decided.weekly_quota) == (
            "active",
            level,
            WEEKLY_QUOTA[level],
        )
        assert decided.performance is not None
        assert (decided.performance.delivered, decided.performance.read) == (CUSTOMERS, read)
        assert decided.performance.blocked == 0
        # The quota follows at once: ten a week now, one of them already used.
        shop = await pipeline.until(
            "/v1/shop/status", owner, lambda b: b["level"] == level, timeout=30
        )
        assert (shop["weekly_quota"], shop["quota_used"], shop["quota_left"]) == (10, 1, 9)
