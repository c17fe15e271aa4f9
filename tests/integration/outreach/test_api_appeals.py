"""POST /v1/appeals: one open appeal per suspended seller; GET /v1/appeals shows the
decisions the appeals consumer reads from crm.appeals."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress
from datetime import datetime

from demo.sample_status import sample_status
from schemas.seller import Access, AppealDecided, AppealSubmitted
from services.outreach.appeals import appeals_consumer
from services.shared.codec import decode, encode
from tests.integration.kafka_io import read_records
from tests.integration.outreach.conftest import ApiUnderTest
from tests.integration.outreach.support import assert_problem, eventually, project_status


async def _set_status(api: ApiUnderTest, seller: str, access: Access) -> None:
    level = None if access == "suspended" else 2
    quota = 0 if access == "suspended" else 3
    status = sample_status(seller, access=access, level=level, weekly_quota=quota)
    await project_status(api.runtime.quota, status)


async def test_a_suspended_seller_appeals_once_and_sees_the_decision(
    api: ApiUnderTest, test_id: str, group_id: str
) -> None:
    seller, account = f"seller-{test_id}", f"owner-{test_id}"
    await _set_status(api, seller, "suspended")
    headers = api.auth(seller, account)

    first = await api.client.post("/v1/appeals", json={"text": "We fixed it."}, headers=headers)
    second = await api.client.post("/v1/appeals", json={"text": "Again?"}, headers=headers)

    assert first.status_code == 201, first.text
    appeal = first.json()
    assert appeal["status"] == "open"
    assert appeal["text"] == "We fixed it."
    assert appeal["account_id"] == account
    assert datetime.fromisoformat(appeal["submitted_at"]) == api.clock()
    uuid.UUID(appeal["appeal_id"])
    assert "still open" in assert_problem(second, 409)["detail"]
    listed = (await api.client.get("/v1/appeals", headers=headers)).json()
    assert [(a["appeal_id"], a["status"]) for a in listed["items"]] == [
        (appeal["appeal_id"], "open")
    ]
    (record,) = await read_records(api.settings, "crm.appeals", count=1)
    submitted = decode("crm.appeals", record.value)
    assert isinstance(submitted, AppealSubmitted)
    assert (submitted.appeal_id, submitted.seller_id, submitted.account_id) == (
        appeal["appeal_id"],
        seller,
        account,
    )
    assert record.key == seller.encode()

    decision = AppealDecided(
        event_id=uuid.uuid4(),
        occurred_at=api.clock(),
        appeal_id=appeal["appeal_id"],
        seller_id=seller,
        approved=True,
        decided_by="operator-1",
        note="Thanks for the fix.",
    )
    await api.runtime.producer.send_and_wait(
        api.settings.topic("crm.appeals"), encode(decision), key=seller.encode()
    )
    consumer = appeals_consumer(api.settings, api.runtime.redis, group_id)
    consuming = asyncio.create_task(consumer.run())
    try:

        async def decided() -> list | None:  # type: ignore[type-arg]
            items = (await api.client.get("/v1/appeals", headers=headers)).json()["items"]
            return items if items and items[0]["status"] != "open" else None

        items = await eventually(decided)
    finally:
        consuming.cancel()
        with suppress(asyncio.CancelledError):
            await consuming
    assert items, "the decision was applied"
    assert len(items) == 1
    assert items[0]["status"] == "approved"
    assert items[0]["note"] == "Thanks for the fix."
    assert datetime.fromisoformat(items[0]["decided_at"]) == api.clock()
    assert items[0]["text"] == "We fixed it.", "the re-read submit did not reopen it"


async def test_only_a_suspended_seller_may_appeal(api: ApiUnderTest, test_id: str) -> None:
    active, newcomer = f"active-{test_id}", f"newcomer-{test_id}"
    await _set_status(api, active, "active")

    for seller, access in ((active, "active"), (newcomer, "not_enrolled")):
        response = await api.client.post(
            "/v1/appeals", json={"text": "Please."}, headers=api.auth(seller)
        )
        assert access in assert_problem(response, 409)["detail"]
        listed = await api.client.get("/v1/appeals", headers=api.auth(seller))
        assert listed.json() == {"items": [], "next_cursor": None}
