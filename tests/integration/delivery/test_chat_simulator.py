"""The chat simulator against the real broker: committed OutboundMessages become exactly
the events its rule decides, on the right topics and keys; aborted sends are never seen."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from demo.chat_simulator import TOPICS, ChatSimulator
from schemas.engagement import ClickTarget
from schemas.outbound import Button, OutboundMessage
from schemas.topics import topic_of
from services.delivery.domain.reactions import ReactionRates, reaction_events
from services.shared.codec import decode, encode
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from tests.integration.kafka_io import read_until_idle
from tests.integration.outreach.support import eventually

AT = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
RATES = ReactionRates(read=0.5, click=0.4, block=0.05, fail=0.05, order=0.5)
BUTTONS: tuple[ClickTarget | None, ...] = ("product_list", "coupon", None)


def _messages(plan: str, count: int) -> list[OutboundMessage]:
    return [
        OutboundMessage(
            event_id=uuid.uuid4(),
            occurred_at=AT,
            message_id=f"{plan}:c{n:04d}",
            plan_id=plan,
            plan_type="one_time",
            seller_id=f"seller-{n % 3}",
            customer_id=f"c{n:04d}",
            language="th",
            text="Flash sale",
            product_ids=["p-1"],
            coupon_id="cp-1" if n % 2 else None,
            button=Button(type=b) if (b := BUTTONS[n % 3]) else None,
        )
        for n in range(count)
    ]


async def _send(settings: Settings, messages: list[OutboundMessage], *, commit: bool) -> None:
    producer = new_producer(settings, transactional_id=f"{settings.topic_prefix}sender-{commit}")
    await producer.start()
    try:
        await producer.begin_transaction()
        for m in messages:
            await producer.send(
                settings.topic("crm.outbound-messages"), encode(m), key=m.customer_id.encode()
            )
        if commit:
            await producer.commit_transaction()
        else:
            await producer.flush()
            await producer.abort_transaction()
    finally:
        await producer.stop()


async def test_committed_messages_become_the_decided_events_and_aborted_ones_nothing(
    settings: Settings, topics: Callable[..., Any]
) -> None:
    await topics(*TOPICS)
    committed = _messages("plan-a", 600)
    aborted = _messages("plan-aborted", 50)
    await _send(settings, aborted, commit=False)
    await _send(settings, committed, commit=True)

    simulator = ChatSimulator(settings, RATES, lambda: AT, currency="THB")
    stop = asyncio.Event()
    task = asyncio.create_task(simulator.run(stop))
    try:

        async def all_handled() -> bool:
            if task.done():
                task.result()
            return simulator.counts["messages"] >= len(committed)

        assert await eventually(all_handled, timeout=60)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)
    assert simulator.counts["messages"] == len(committed)
    assert set(simulator.by_plan) == {"plan-a"}
    assert simulator.by_plan["plan-a"] == simulator.counts

    expected = [e for m in committed for e in reaction_events(m, RATES, AT, "THB")]
    published = await read_until_idle(
        settings, "crm.chat-engagement", "crm.shop-blocks", "crm.customer-activity"
    )
    seen = []
    for record in published:
        logical = settings.logical_topic(record.topic)
        event = decode(logical, record.value)
        assert topic_of(event.event_type).name == logical
        assert record.key == getattr(event, "seller_id").encode()  # noqa: B009
        seen.append(event)
    assert sorted(seen, key=lambda e: e.event_id) == sorted(expected, key=lambda e: e.event_id)
    kinds = {e.event_type for e in seen}
    # The rates make every kind of event; none of them for an aborted message.
    assert kinds == {
        "MessageDelivered",
        "MessageRead",
        "MessageClicked",
        "MessageFailed",
        "ShopBlocked",
        "CouponClaimed",
        "OrderPlaced",
    }
    assert not [e for e in seen if getattr(e, "message_id", "").startswith("plan-aborted")]
    delivered = sum(e.event_type == "MessageDelivered" for e in seen)
    failed = sum(e.event_type == "MessageFailed" for e in seen)
    assert delivered + failed == len(committed)
    assert simulator.counts == Counter(["messages"] * len(committed) + [e.event_type for e in seen])
