"""`crm worker customers` as a process on the real Kafka and Redis: an automated cart
reminder on a custom segment messages that segment's members only, judged at the moment
each reminder comes due — and a seller known only from a metrics report has a calendar."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from schemas.customer import CartAdded, ShopFollowed
from schemas.envelope import Event
from schemas.plans import PlanStarted
from schemas.segments import AutomatedPlanFired, SegmentCondition, SegmentDefined
from services.customers.firing import TOPICS as FIRING_TOPICS
from services.customers.projection import TOPICS as PROJECTION_TOPICS
from services.customers.store import customer_store, customers_redis
from services.shared.codec import decode, encode
from services.shared.kafka import new_consumer, new_producer
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess
from tests.integration.customers.firing_support import automated_plan, metrics_report, plan_event
from tests.integration.outreach.support import eventually

SELLER = "s-fans"
SEGMENT = "seg-fans"
# Carts come due this long after the test publishes them.
DUE_IN = timedelta(seconds=20)
_DAY = timedelta(days=1)


def _activity(kind: type[CartAdded] | type[ShopFollowed], customer: str, at: datetime) -> Event:
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "occurred_at": at,
        "seller_id": SELLER,
        "customer_id": customer,
    }
    if kind is CartAdded:
        fields["product_id"] = "p1"
    return kind.model_validate(fields)


async def _publish(settings: Settings, events: list[tuple[str, Event]]) -> None:
    producer = new_producer(settings)
    await producer.start()
    try:
        for topic, event in events:
            key = getattr(event, "seller_id")  # noqa: B009 - every event here has one
            await producer.send_and_wait(settings.topic(topic), encode(event), key=key.encode())
    finally:
        await producer.stop()


async def _fired(settings: Settings, expected: int, idle_ms: int = 4000) -> list[str]:
    """The customers fired, reading crm.plan-firings (read_committed) until `expected`
    arrived and then nothing more for `idle_ms`, or nothing at all for 90 s."""
    consumer = new_consumer(settings, "crm.plan-firings", group_id=None, fetch_max_wait_ms=100)
    await consumer.start()
    seen: list[str] = []
    try:
        while True:
            wait = idle_ms if len(seen) >= expected else 90_000
            batch = await consumer.getmany(timeout_ms=wait)
            if not batch:
                return sorted(seen)
            for records in batch.values():
                for record in records:
                    event = decode("crm.plan-firings", record.value)
                    assert isinstance(event, AutomatedPlanFired)
                    seen.append(event.customer_id)
    finally:
        await consumer.stop()


async def test_a_cart_reminder_on_a_custom_segment_fires_for_its_members_at_the_due_moment(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*PROJECTION_TOPICS, *FIRING_TOPICS, "crm.dead-letters")
    worker = WorkerProcess("customers", settings, tmp_path / "customers.log")
    worker.start()
    redis = customers_redis(settings)
    store = customer_store(settings, redis)
    try:
        await worker.wait_ready()
        now = datetime.now(UTC)
        plan = automated_plan(
            "reminder",
            {"type": "cart_abandoned"},
            now - timedelta(minutes=5),
            now + timedelta(days=7),
            seller=SELLER,
            segment_id=SEGMENT,
            submitted_at=now - timedelta(minutes=5),
        )
        fans = SegmentDefined(
            event_id=uuid.uuid4(),
            occurred_at=now - timedelta(days=1),
            seller_id=SELLER,
            segment_id=SEGMENT,
            account_id=f"{SELLER}-owner",
            name="followers with a cart this week",
            conditions=[
                SegmentCondition(field="is_follower", op="is_true", value=None),
                SegmentCondition(field="days_since_last_cart_add", op="lte", value=7),
            ],
        )
        added = now - timedelta(hours=24) + DUE_IN
        await _publish(
            settings,
            [
                # The seller is known from its metrics report alone (no monthly status yet).
                ("crm.seller-metrics", metrics_report(SELLER, "ID", now)),
                ("crm.segments", fans),
                ("crm.customer-activity", _activity(ShopFollowed, "c-fan", now - 3 * _DAY)),
                ("crm.customer-activity", _activity(CartAdded, "c-fan", added)),
                ("crm.customer-activity", _activity(CartAdded, "c-outsider", added)),
                ("crm.customer-activity", _activity(CartAdded, "c-joiner", added)),
                ("crm.plan-events", plan_event(PlanStarted, plan)),
            ],
        )

        async def market_known() -> bool:
            return await store.market(SELLER) == "ID"

        assert await eventually(market_known, timeout=30)
        # Someone who joins the segment minutes before the reminder comes due: no daily
        # membership could hold them yet.
        await _publish(
            settings,
            [
                (
                    "crm.customer-activity",
                    _activity(ShopFollowed, "c-joiner", datetime.now(UTC) - timedelta(minutes=2)),
                )
            ],
        )
        assert await _fired(settings, expected=2) == ["c-fan", "c-joiner"]
        # The outsider abandoned the same cart at the same moment: judged in the same pass,
        # not a member, never fired.
        assert b"firing_market_unknown" not in worker.log()
    finally:
        worker.stop()
        await redis.aclose()
