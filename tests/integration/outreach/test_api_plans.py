"""/v1/plans over real HTTP against uvicorn, the plan processor, Kafka and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from demo.sample_status import sample_status
from schemas.plans import CompletePlan, SubmitPlan
from services.shared.settings import Settings
from tests.integration.outreach.plans_api import PlansApi, automated, one_time, plans_api, utc_now
from tests.integration.outreach.processor_support import OUTREACH_TOPICS, campaign, command
from tests.integration.outreach.support import assert_problem, eventually

TOPICS = (*OUTREACH_TOPICS, "crm.seller-accounts", "crm.appeals")


@pytest.fixture
async def api(settings: Settings, topics: Any, redis_url: str) -> AsyncIterator[PlansApi]:
    await topics(*TOPICS)
    async with plans_api(settings.model_copy(update={"redis_url": redis_url})) as api:
        yield api


async def _active(api: PlansApi, seller: str, quota: int = 3) -> None:
    await api.set_status(sample_status(seller, level=2, weekly_quota=quota, occurred_at=utc_now()))


async def _status_becomes(api: PlansApi, seller: str, plan_id: str, status: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        plan = await api.get(seller, plan_id)
        return plan if plan["status"] == status else None

    plan = await eventually(check, timeout=20)
    assert plan, f"{plan_id} never became {status}"
    return plan  # type: ignore[no-any-return]


async def test_one_time_plan_from_draft_to_completed(api: PlansApi, test_id: str) -> None:
    seller = f"s{test_id}"
    await _active(api, seller)
    # Due 10 s ahead: under load the edit and submit below may take seconds, and the plan
    # must still be scheduled when the list is read.
    created = await api.create(seller, one_time(timedelta(seconds=10)))
    assert (created["status"], created["reason"], created["version"]) == ("draft", None, 1)
    plan_id = created["plan_id"]

    patched = await api.client.patch(
        f"/v1/plans/{plan_id}", json={"name": "Renamed"}, headers=api.auth(seller)
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["name"], patched.json()["version"]) == ("Renamed", 2)
    assert (await api.get(seller, plan_id))["name"] == "Renamed"

    submitted = await api.act(seller, plan_id, "submit")
    assert submitted.status_code == 200
    assert (submitted.json()["status"], submitted.json()["reason"]) == ("scheduled", None)
    listed = await api.client.get(
        "/v1/plans", params={"type": "one_time", "status": "scheduled"}, headers=api.auth(seller)
    )
    assert [p["plan_id"] for p in listed.json()["items"]] == [plan_id]

    sending = await _status_becomes(api, seller, plan_id, "sending")
    assert sending["dispatched_at"] is not None
    # Delivery's part (a later issue) is to report the plan complete.
    answer = await api.runtime.plans.gateway.send(
        command(CompletePlan, seller, plan_id, recipients=3, sent=3)
    )
    assert answer.outcome == "applied"
    assert (await api.get(seller, plan_id))["status"] == "completed"


async def test_automated_plan_runs_until_cancelled_or_its_timeframe_ends(
    api: PlansApi, test_id: str
) -> None:
    seller = f"s{test_id}"
    await _active(api, seller)
    running = await api.create(seller, automated())
    assert running["content"]["texts"]["en"], "the template's texts fill a plan without texts"
    started = (await api.act(seller, running["plan_id"], "submit")).json()
    assert started["status"] == "ongoing"
    cancelled = (await api.act(seller, running["plan_id"], "cancel")).json()
    assert (cancelled["status"], cancelled["reason"]) == ("cancelled", "seller_cancelled")

    short = await api.create(seller, automated(ends_in=timedelta(seconds=3)))
    assert (await api.act(seller, short["plan_id"], "submit")).json()["status"] == "ongoing"
    await _status_becomes(api, seller, short["plan_id"], "ended")
    shop = (await api.client.get("/v1/shop/status", headers=api.auth(seller))).json()
    assert shop["quota_used"] == 0


async def test_campaign_sent_now_starts_sending_without_quota(api: PlansApi, test_id: str) -> None:
    seller = f"s{test_id}"
    await _active(api, seller, quota=1)
    sale = campaign(f"sale-{test_id}")
    await api.announce(sale)
    body = one_time(type="campaign", send_now=True, campaign_id=sale.campaign_id)
    del body["send_at"]
    plan = await api.create(seller, body)
    assert (await api.act(seller, plan["plan_id"], "submit")).json()["status"] == "sending"
    shop = (await api.client.get("/v1/shop/status", headers=api.auth(seller))).json()
    assert (shop["quota_used"], shop["quota_left"]) == (0, 1)


# status -> how to get a plan there; every action the status table forbids is a 409.
async def _plan_in(api: PlansApi, seller: str, status: str) -> str:
    if status in ("ongoing", "ended"):
        body = automated(ends_in=timedelta(seconds=2) if status == "ended" else timedelta(days=2))
    elif status == "sending":
        body = one_time(send_now=True)
        del body["send_at"]
    else:
        body = one_time()
    plan_id: str = (await api.create(seller, body))["plan_id"]
    if status == "draft":
        return plan_id
    if status == "rejected":
        await api.set_status(
            sample_status(
                seller, access="suspended", level=None, weekly_quota=0, occurred_at=utc_now()
            )
        )
        # The API refuses it up front (403); the processor's own check rejects a submit
        # that reaches it after the status changed.
        answer = await api.runtime.plans.gateway.send(command(SubmitPlan, seller, plan_id))
        assert (answer.plan.status, answer.plan.reason) == ("rejected", "not_eligible")  # type: ignore[union-attr]
        await api.runtime.plans.read_model.put(answer.plan)  # type: ignore[arg-type]
        await _active(api, seller)
        return plan_id
    await api.act(seller, plan_id, "submit")
    if status == "cancelled":
        await api.act(seller, plan_id, "cancel")
    if status == "ended":
        await _status_becomes(api, seller, plan_id, "ended")
    assert (await api.get(seller, plan_id))["status"] == status
    return plan_id


ACTIONS = ("edit", "delete", "submit", "cancel")
ALLOWED = {
    "draft": {"edit", "delete", "submit"},
    "scheduled": {"cancel"},
    "ongoing": {"cancel"},
}


async def test_every_action_the_status_table_forbids_is_a_409(api: PlansApi, test_id: str) -> None:
    seller = f"s{test_id}"
    await _active(api, seller, quota=50)
    checked = 0
    for status in ("draft", "scheduled", "sending", "ongoing", "ended", "cancelled", "rejected"):
        plan_id = await _plan_in(api, seller, status)
        for action in ACTIONS:
            if action in ALLOWED.get(status, set()):
                continue
            if action == "edit":
                response = await api.client.patch(
                    f"/v1/plans/{plan_id}", json={"name": "x"}, headers=api.auth(seller)
                )
            elif action == "delete":
                response = await api.client.delete(f"/v1/plans/{plan_id}", headers=api.auth(seller))
            else:
                response = await api.act(seller, plan_id, action)
            problem = assert_problem(response, 409)
            assert status in problem["detail"], (status, action, problem)
            checked += 1
    assert checked == 1 + 3 + 4 + 3 + 4 + 4 + 4


async def test_another_sellers_plan_is_not_found(api: PlansApi, test_id: str) -> None:
    owner, stranger = f"s{test_id}", f"x{test_id}"
    await _active(api, owner)
    await _active(api, stranger)
    plan_id = (await api.create(owner, one_time()))["plan_id"]
    them = api.auth(stranger)
    assert_problem(await api.client.get(f"/v1/plans/{plan_id}", headers=them), 404)
    assert_problem(
        await api.client.patch(f"/v1/plans/{plan_id}", json={"name": "x"}, headers=them), 404
    )
    assert_problem(await api.client.delete(f"/v1/plans/{plan_id}", headers=them), 404)
    for action in ("submit", "cancel"):
        assert_problem(await api.act(stranger, plan_id, action), 404)
    assert (await api.client.get("/v1/plans", headers=them)).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert (await api.get(owner, plan_id))["status"] == "draft"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {
                "content": {
                    "default_language": "th",
                    "texts": {"th": "x"},
                    "product_ids": ["a", "b", "c", "d", "e"],
                }
            },
            "content.product_ids",
        ),
        ({"content": {"default_language": "th", "texts": {"th": "x" * 501}}}, "content.texts.th"),
        ({"content": {"default_language": "th", "texts": {"en": "hello"}}}, "content.texts"),
        (
            {
                "content": {
                    "default_language": "th",
                    "texts": {"th": "x"},
                    "button": {"type": "teleport"},
                }
            },
            "content.button.type",
        ),
        ({"send_at": "2020-01-01T00:00:00+07:00"}, "send_at"),
        ({"segment_id": "no_such_segment"}, "segment_id"),
        ({"type": "carrier_pigeon"}, "type"),
        ({"name": 42}, "name"),
    ],
)
async def test_malformed_plans_are_422_problems_naming_the_field(
    api: PlansApi, test_id: str, change: dict[str, Any], field: str
) -> None:
    await _active(api, f"s{test_id}")
    response = await api.client.post(
        "/v1/plans", json={**one_time(), **change}, headers=api.auth(f"s{test_id}")
    )
    problem = assert_problem(response, 422)
    fields = [e["field"] for e in problem["errors"]]
    assert any(f == field or f.startswith(field) or f.endswith(field) for f in fields), fields


async def test_schedule_and_timeframe_limits_are_422(api: PlansApi, test_id: str) -> None:
    seller = f"s{test_id}"
    await _active(api, seller)
    too_far = one_time(timedelta(days=30, minutes=5))
    assert_problem(await api.client.post("/v1/plans", json=too_far, headers=api.auth(seller)), 422)
    backwards = automated(ends_at=(utc_now() - timedelta(hours=1)).isoformat())
    assert_problem(
        await api.client.post("/v1/plans", json=backwards, headers=api.auth(seller)), 422
    )
    unknown = automated(trigger={"type": "birthday"})
    assert_problem(await api.client.post("/v1/plans", json=unknown, headers=api.auth(seller)), 422)
    garbage = await api.client.post(
        "/v1/plans",
        content=b"{not json",
        headers={**api.auth(seller), "content-type": "application/json"},
    )
    assert_problem(garbage, 422)


async def test_the_fourth_one_time_plan_at_level_two_is_quota_exhausted(
    api: PlansApi, test_id: str
) -> None:
    seller = f"s{test_id}"
    await _active(api, seller, quota=3)
    results = []
    # One send_at for all four: their units belong to its market-local week.
    body = one_time()
    send_at = datetime.fromisoformat(body["send_at"])
    for _ in range(4):
        plan_id = (await api.create(seller, body))["plan_id"]
        results.append((await api.act(seller, plan_id, "submit")).json())
    assert [(r["status"], r["reason"]) for r in results] == [
        ("scheduled", None),
        ("scheduled", None),
        ("scheduled", None),
        ("rejected", "quota_exhausted"),
    ]
    # send_at may fall in next week (two hours ahead on a Sunday night): ask for its week.
    week = await api.runtime.quota.usage(seller, send_at)
    assert (week.used, week.left) == (3, 0)

    cancelled = await api.act(seller, results[0]["plan_id"], "cancel")
    assert cancelled.json()["status"] == "cancelled"
    week = await api.runtime.quota.usage(seller, send_at)
    assert (week.used, week.left) == (2, 1)
    # /v1/shop/status reports the week of now, the same figures when it is send_at's week.
    shop = (await api.client.get("/v1/shop/status", headers=api.auth(seller))).json()
    if shop["week"] == week.week:
        assert (shop["quota_used"], shop["quota_left"]) == (2, 1)
    else:
        assert (shop["quota_used"], shop["quota_left"]) == (0, 3)


async def test_a_suspended_seller_is_not_eligible_and_its_plans_are_cancelled(
    api: PlansApi, test_id: str
) -> None:
    seller = f"s{test_id}"
    await _active(api, seller)
    scheduled = (await api.create(seller, one_time()))["plan_id"]
    ongoing = (await api.create(seller, automated()))["plan_id"]
    draft = (await api.create(seller, one_time()))["plan_id"]
    await api.act(seller, scheduled, "submit")
    await api.act(seller, ongoing, "submit")

    await api.set_status(
        sample_status(seller, access="suspended", level=None, weekly_quota=0, occurred_at=utc_now())
    )
    for plan_id in (scheduled, ongoing):
        plan = await _status_becomes(api, seller, plan_id, "cancelled")
        assert plan["reason"] == "seller_suspended"
    refused = assert_problem(await api.act(seller, draft, "submit"), 403)
    assert refused["type"].endswith("not-eligible")
    assert (await api.get(seller, draft))["status"] == "draft"
    shop = (await api.client.get("/v1/shop/status", headers=api.auth(seller))).json()
    assert shop["access"] == "suspended"


async def test_a_sub_account_needs_the_customers_permission_for_plans(
    api: PlansApi, test_id: str
) -> None:
    seller = f"s{test_id}"
    await _active(api, seller)
    sub = api.auth(seller, f"helper-{test_id}", "sub")
    assert_problem(await api.client.get("/v1/plans", headers=sub), 403)
    assert_problem(await api.client.post("/v1/plans", json=one_time(), headers=sub), 403)
    grant = await api.client.put(
        f"/v1/accounts/helper-{test_id}/permissions",
        json={"permissions": ["customers"]},
        headers=api.auth(seller),
    )
    assert grant.status_code == 200, grant.text
    assert (await api.client.get("/v1/plans", headers=sub)).status_code == 200
    assert (await api.client.post("/v1/plans", json=one_time(), headers=sub)).status_code == 201
    revoke = await api.client.put(
        f"/v1/accounts/helper-{test_id}/permissions",
        json={"permissions": []},
        headers=api.auth(seller),
    )
    assert revoke.status_code == 200
    assert_problem(await api.client.get("/v1/plans", headers=sub), 403)


async def test_without_an_answer_from_the_processor_the_api_says_503_with_retry_after(
    settings: Settings, topics: Any, redis_url: str, test_id: str
) -> None:
    await topics(*TOPICS)
    stack = plans_api(
        settings.model_copy(update={"redis_url": redis_url}), processor=False, reply_timeout=1.0
    )
    async with stack as api:
        await _active(api, f"s{test_id}")
        response = await api.client.post(
            "/v1/plans", json=one_time(), headers=api.auth(f"s{test_id}")
        )
        problem = assert_problem(response, 503)
        assert response.headers["retry-after"] == str(api.runtime.plans.retry_after_seconds)
        assert "processor" in problem["detail"]
