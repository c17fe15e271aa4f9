"""The permissions consumer applies every event on crm.seller-accounts, including those
other systems publish, dead-letters bad records and goes on; the projection keeps
the latest record of each permission whatever order writes arrive in."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress

from schemas.dead_letter import DeadLetter
from schemas.seller import PermissionGranted, PermissionRevoked, ShopProfileUpdated
from services.outreach.permissions import permission_store, permissions_consumer
from services.shared.codec import decode, encode
from tests.integration.kafka_io import read_records
from tests.integration.outreach.conftest import ApiUnderTest
from tests.integration.outreach.support import assert_problem, eventually


def _grant(seller: str, account: str, api: ApiUnderTest) -> PermissionGranted:
    return PermissionGranted(
        event_id=uuid.uuid4(),
        occurred_at=api.clock(),
        seller_id=seller,
        account_id=account,
        permission="customers",
    )


async def test_events_of_another_system_are_applied_and_bad_records_dead_lettered(
    api: ApiUnderTest, test_id: str, group_id: str
) -> None:
    seller, sub = f"seller-{test_id}", f"helper-{test_id}"
    topic = api.settings.topic("crm.seller-accounts")
    producer = api.runtime.producer
    await producer.send_and_wait(topic, b"{not json", key=seller.encode())
    # The shop's profile shares the topic: delivery's, it passes by here.
    shop = ShopProfileUpdated(
        event_id=uuid.uuid4(), occurred_at=api.clock(), seller_id=seller, shop_name="Bloom"
    )
    await producer.send_and_wait(topic, encode(shop), key=seller.encode())
    await producer.send_and_wait(
        topic, encode(_grant(seller, f"elsewhere-{test_id}", api)), key=b"not-the-seller"
    )
    await producer.send_and_wait(topic, encode(_grant(seller, sub, api)), key=seller.encode())
    sub_auth = api.auth(seller, sub, role="sub")
    assert_problem(await api.client.get("/v1/templates", headers=sub_auth), 403)

    consumer = permissions_consumer(api.settings, api.runtime.redis, group_id)
    consuming = asyncio.create_task(consumer.run())
    try:

        async def allowed() -> bool:
            response = await api.client.get("/v1/templates", headers=sub_auth)
            return response.status_code == 200

        assert await eventually(allowed), "the grant published elsewhere was applied"
        letters = await read_records(api.settings, "crm.dead-letters", count=2)
    finally:
        consuming.cancel()
        with suppress(asyncio.CancelledError):
            await consuming
    decoded = [decode("crm.dead-letters", r.value) for r in letters]
    assert all(isinstance(d, DeadLetter) for d in decoded)
    errors = sorted(d.error.split(":")[0] for d in decoded)  # type: ignore[union-attr]
    assert errors == ["invalid JSON", "key"], decoded
    assert {d.service for d in decoded} == {"outreach"}  # type: ignore[union-attr]
    store = permission_store(api.settings, api.runtime.redis)
    assert await store.permissions(seller, f"elsewhere-{test_id}") == []


async def test_a_write_older_than_the_stored_one_changes_nothing(
    api: ApiUnderTest, test_id: str
) -> None:
    seller, sub = f"seller-{test_id}", f"helper-{test_id}"
    store = permission_store(api.settings, api.runtime.redis)
    grant = _grant(seller, sub, api)
    revoke = PermissionRevoked(**{**grant.model_dump(), "event_type": "PermissionRevoked"})

    assert await store.apply(grant, 7)
    assert not await store.apply(revoke, 6), "an older record is ignored"
    assert not await store.apply(grant, 7), "a redelivered record is ignored"
    assert await store.permissions(seller, sub) == ["customers"]
    assert await store.apply(revoke, 8)
    assert await store.permissions(seller, sub) == []
