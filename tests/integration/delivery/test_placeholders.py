"""A template plan reaches every customer with its placeholders filled in: the shop's
name from a ShopProfileUpdated on crm.seller-accounts, each customer's name from their
CustomerProfileUpdated (through the customers projection), the plan's coupon, and a
fallback in the message's language where a value is unknown."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from schemas.customer import CustomerProfileUpdated
from schemas.dead_letter import DeadLetter
from schemas.outbound import Button
from schemas.plans import PlanContent
from schemas.seller import PermissionGranted, ShopProfileUpdated
from services.customers.domain.profile import Profile
from services.customers.projection import CustomerProjection
from services.customers.store import customer_store, customers_redis
from services.delivery.domain.placeholders import fallback
from services.delivery.keys import DeliveryKeys, delivery_prefix
from services.delivery.shops import ShopNames, shop_name_consumer
from services.outreach.domain.templates import find
from services.shared.codec import decode
from services.shared.consumer import DeadLetteringConsumer
from services.shared.settings import Settings
from tests.integration.delivery.support import (
    DELIVERY_TOPICS,
    SELLER,
    committed,
    dispatch,
    one_time_plan,
    pairs,
    publish,
    running_delivery,
    shop,
)
from tests.integration.delivery.test_firings import _automated, _fired, _started
from tests.integration.kafka_io import read_records
from tests.integration.outreach.support import eventually

pytestmark = pytest.mark.integration

Topics = Callable[..., Awaitable[list[str]]]
RAW = re.compile(r"\{[^{}]*\}")


def _profile(customer: str, language: str | None, name: str | None) -> CustomerProfileUpdated:
    return CustomerProfileUpdated(
        event_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        customer_id=customer,
        region=None,
        city=None,
        gender=None,
        age_band=None,
        language=language,
        name=name,
    )


async def test_a_template_plans_messages_carry_the_shop_customer_and_coupon(
    settings: Settings, topics: Topics
) -> None:
    await topics(*DELIVERY_TOPICS, "crm.customer-profiles")
    template = find("coupon")
    assert template is not None
    plan = one_time_plan(
        "p-coupon",
        template_id="coupon",
        texts={"en": template.texts["en"], "th": template.texts["th"]},
        coupon_id="SAVE10",
        button={"type": "coupon"},
    )
    customers = ["c-anna", "c-thai", "c-nobody"]
    await publish(
        settings,
        "crm.seller-accounts",
        [
            ShopProfileUpdated(
                event_id=uuid.uuid4(),
                occurred_at=datetime.now(UTC),
                seller_id=SELLER,
                shop_name="Bloom Flowers",
            )
        ],
        SELLER,
    )
    for profile in (_profile("c-anna", "en", "Anna"), _profile("c-thai", "th", None)):
        await publish(settings, "crm.customer-profiles", [profile], profile.customer_id)

    async with shop(settings) as seller:
        await seller.activate()
        await seller.members(plan.segment_id, customers)
        # The customers service's own projection turns the profiles into the store.
        store = customer_store(settings, seller.redis)
        projection = CustomerProjection(store, store.definitions)
        profiles = DeadLetteringConsumer(
            settings,
            service="customers",
            topics=["crm.customer-profiles"],
            group_id=f"{settings.topic_prefix}test-profiles",
            handler=projection.handle,
            flush=projection.flush,
        )
        stopping = asyncio.Event()
        projecting = asyncio.create_task(profiles.run(stopping))
        names = ShopNames(seller.redis, DeliveryKeys(delivery_prefix(settings)))
        try:
            stored = await eventually(
                lambda: _both(seller.store.profiles(["c-anna", "c-thai"])), timeout=60
            )
            assert stored, "the customers projection never stored the profiles"
            assert stored["c-anna"].name == "Anna"
            async with running_delivery(settings):
                shop_name = await eventually(lambda: names.name(SELLER), timeout=60)
                assert shop_name == "Bloom Flowers"
                await dispatch(settings, plan)
                messages = await committed(settings, "crm.outbound-messages", expected=3)
        finally:
            stopping.set()
            await projecting

    assert pairs(messages) == {("p-coupon", c): 1 for c in customers}
    by_customer = {m.customer_id: m for m in messages}
    for message in messages:
        assert RAW.search(message.text) is None, message.text
        assert "Bloom Flowers" in message.text
        assert "SAVE10" in message.text
    anna, thai, nobody = (by_customer[c] for c in customers)
    assert anna.language == "en"
    assert anna.text.startswith("Hi Anna, here")
    assert fallback("customer_name", "en") not in anna.text
    assert thai.language == "th"
    assert fallback("customer_name", "th") in thai.text
    assert nobody.language == "en"  # no profile: the default language and no name
    assert fallback("customer_name", "en") in nobody.text


async def _both(reading: Awaitable[dict[str, object]]) -> dict[str, object] | None:
    found = await reading
    return found if len(found) == 2 else None


async def test_the_latest_shop_name_wins_and_a_misfiled_profile_is_dead_lettered(
    settings: Settings, topics: Topics
) -> None:
    await topics("crm.seller-accounts", "crm.dead-letters")
    now = datetime.now(UTC)

    def named(seller: str, name: str) -> ShopProfileUpdated:
        return ShopProfileUpdated(
            event_id=uuid.uuid4(), occurred_at=now, seller_id=seller, shop_name=name
        )

    grant = PermissionGranted(
        event_id=uuid.uuid4(),
        occurred_at=now,
        seller_id="s-a",
        account_id="helper",
        permission="customers",
    )
    await publish(settings, "crm.seller-accounts", [named("s-a", "Old"), grant], "s-a")
    await publish(settings, "crm.seller-accounts", [named("s-a", "New")], "s-a")
    await publish(settings, "crm.seller-accounts", [named("s-b", "Misfiled")], "s-a")
    redis = customers_redis(settings)
    names = ShopNames(redis, DeliveryKeys(delivery_prefix(settings)))
    consumer = shop_name_consumer(settings, names, f"{settings.topic_prefix}test-shop-names")
    stopping = asyncio.Event()
    running = asyncio.create_task(consumer.run(stopping))
    try:
        letters = await read_records(settings, "crm.dead-letters", count=1)
        assert await eventually(lambda: _is(names.name("s-a"), "New"), timeout=30)
        assert await names.name("s-b") is None
    finally:
        stopping.set()
        await running
        await redis.aclose()
    (letter,) = [decode("crm.dead-letters", r.value) for r in letters]
    assert isinstance(letter, DeadLetter)
    assert letter.error.startswith("key"), letter.error
    assert letter.service == "delivery"


async def _is(reading: Awaitable[str | None], expected: str) -> bool:
    return await reading == expected


async def test_an_automated_plans_firing_is_personalized_too(
    settings: Settings, topics: Topics
) -> None:
    await topics(*DELIVERY_TOPICS)
    template = find("cart_reminder")
    assert template is not None
    plan = _automated("auto-named").model_copy(
        update={
            "content": PlanContent(
                template_id="cart_reminder",
                default_language="en",
                texts={"en": template.texts["en"], "id": template.texts["id"]},
                button=Button(type="product_list"),
            )
        }
    )
    shop_profile = ShopProfileUpdated(
        event_id=uuid.uuid4(), occurred_at=datetime.now(UTC), seller_id=SELLER, shop_name="Sari"
    )
    await publish(settings, "crm.seller-accounts", [shop_profile], SELLER)
    async with shop(settings) as seller:
        await seller.activate()
        at = datetime.now(UTC)
        await seller.store.save_profiles(
            {
                "c-budi": Profile(language="id", name="Budi", updated_at=at),
                "c-anon": Profile(language="id", updated_at=at),
            }
        )
        names = ShopNames(seller.redis, DeliveryKeys(delivery_prefix(settings)))
        await publish(settings, "crm.plan-events", [_started(plan)], SELLER)
        async with running_delivery(settings):
            assert await eventually(lambda: _is(names.name(SELLER), "Sari"), timeout=60)
            await publish(
                settings,
                "crm.plan-firings",
                [_fired(plan, "c-budi"), _fired(plan, "c-anon")],
                SELLER,
            )
            messages = await committed(settings, "crm.outbound-messages", expected=2)
    by_customer = {m.customer_id: m for m in messages}
    budi, anon = by_customer["c-budi"], by_customer["c-anon"]
    assert (budi.language, anon.language) == ("id", "id")
    assert "Budi" in budi.text
    assert fallback("customer_name", "id") in anon.text
    for message in messages:
        assert "Sari" in message.text
        assert RAW.search(message.text) is None, message.text
