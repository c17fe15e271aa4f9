"""A dispatched plan reaches each of its segment's members once, in their language,
minus who blocks the shop or is over the frequency cap; then it completes with counts."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from schemas.engagement import ShopBlocked, ShopUnblocked
from schemas.outbound import OutboundMessage
from services.delivery.domain.messages import message_id
from services.shared.settings import Settings
from tests.integration.delivery.support import (
    DELIVERY_TOPICS,
    SELLER,
    Shop,
    committed,
    completion,
    dispatch,
    final_progress,
    one_time_plan,
    pairs,
    publish,
    running_delivery,
    shop,
)
from tests.integration.outreach.support import eventually

pytestmark = pytest.mark.integration

Topics = Callable[..., Awaitable[list[str]]]


async def test_each_member_gets_one_message_in_their_language(
    settings: Settings, topics: Topics
) -> None:
    await topics(*DELIVERY_TOPICS)
    customers = [f"c{n:04d}" for n in range(2500)]
    plan = one_time_plan(
        "p1",
        texts={"en": "Sale today", "th": "ลดราคาวันนี้"},
        product_ids=["p9"],
        coupon_id="cp1",
        button={"type": "coupon"},
    )
    async with shop(settings) as seller:
        await seller.activate()
        await seller.members(plan.segment_id, customers)
        await seller.languages({"c0000": "th", "c0001": "id", "c0002": "en"})
        async with running_delivery(settings):
            await dispatch(settings, plan)
            messages = await committed(settings, "crm.outbound-messages", expected=len(customers))
    assert pairs(messages) == {("p1", c): 1 for c in customers}
    by_customer: dict[str, OutboundMessage] = {m.customer_id: m for m in messages}
    assert (by_customer["c0000"].language, by_customer["c0000"].text) == ("th", "ลดราคาวันนี้")
    assert by_customer["c0001"].language == "en"  # no Indonesian text: the default
    assert by_customer["c0003"].language == "en"  # no profile: the default
    first = by_customer["c0000"]
    assert first.message_id == str(message_id("p1", "c0000"))
    assert (first.product_ids, first.coupon_id, first.plan_type) == (["p9"], "cp1", "one_time")
    assert first.button is not None
    assert first.button.type == "coupon"
    done = await completion(settings, "p1")
    assert (done.recipients, done.sent, done.suppressed) == (2500, 2500, {})
    progress = await final_progress(settings, "p1")
    assert progress.done
    assert progress.sent == 2500


async def test_blocked_customers_are_suppressed_until_they_unblock(
    settings: Settings, topics: Topics
) -> None:
    await topics(*DELIVERY_TOPICS)
    customers = ["a", "b", "c"]
    async with shop(settings) as seller:
        await seller.activate()
        await seller.members("followers_not_purchased", customers)
        async with running_delivery(settings):
            await publish(
                settings,
                "crm.shop-blocks",
                [_blocked("b"), _blocked("c"), _unblocked("c")],
                SELLER,
            )
            assert await eventually(lambda: _is_blocked(seller, "b"))
            await dispatch(settings, one_time_plan("p1"))
            first = await completion(settings, "p1")
            await publish(settings, "crm.shop-blocks", [_unblocked("b")], SELLER)
            assert await eventually(lambda: _is_not_blocked(seller, "b"))
            await dispatch(settings, one_time_plan("p2"))
            messages = await committed(settings, "crm.outbound-messages", expected=5)
    assert (first.sent, first.suppressed) == (2, {"blocked": 1})
    assert sorted(pairs(messages)) == [
        ("p1", "a"),
        ("p1", "c"),
        ("p2", "a"),
        ("p2", "b"),
        ("p2", "c"),
    ]


async def test_the_frequency_cap_holds_across_plans(settings: Settings, topics: Topics) -> None:
    await topics(*DELIVERY_TOPICS)
    async with shop(settings) as seller:
        await seller.activate()
        await seller.members("followers_not_purchased", ["a", "b"])
        await seller.members("repeat_customers", ["a"])
        async with running_delivery(settings):
            await dispatch(settings, one_time_plan("p1"), one_time_plan("p2"))
            await dispatch(settings, one_time_plan("p3", segment_id="repeat_customers"))
            await dispatch(settings, one_time_plan("p4"))
            messages = await committed(settings, "crm.outbound-messages", expected=4)
            progress = await committed(settings, "crm.delivery-progress", expected=4)
    assert sorted(pairs(messages)) == [("p1", "a"), ("p1", "b"), ("p2", "a"), ("p2", "b")]
    last = {p.plan_id: p for p in progress}
    assert (last["p3"].sent, last["p3"].suppressed) == (0, {"frequency_capped": 1})
    assert (last["p4"].sent, last["p4"].suppressed) == (0, {"frequency_capped": 2})


async def test_an_inactive_seller_sends_nothing(settings: Settings, topics: Topics) -> None:
    await topics(*DELIVERY_TOPICS)
    async with shop(settings) as seller:
        await seller.activate(access="suspended")
        await seller.members("followers_not_purchased", ["a", "b"])
        async with running_delivery(settings):
            await dispatch(settings, one_time_plan("p1"))
            done = await completion(settings, "p1")
    assert (done.recipients, done.sent, done.suppressed) == (2, 0, {"seller_inactive": 2})


def _blocked(customer: str) -> ShopBlocked:
    return ShopBlocked(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        seller_id=SELLER,
        customer_id=customer,
        message_id=None,
    )


def _unblocked(customer: str) -> ShopUnblocked:
    return ShopUnblocked(
        event_id=uuid.uuid4(), occurred_at=datetime.now(UTC), seller_id=SELLER, customer_id=customer
    )


async def _is_blocked(seller: Shop, customer: str) -> bool:
    return (await seller.blocks.blocked(SELLER, [customer])) == [True]


async def _is_not_blocked(seller: Shop, customer: str) -> bool:
    return (await seller.blocks.blocked(SELLER, [customer])) == [False]
