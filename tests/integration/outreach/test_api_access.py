"""Who may do what in the Customers module (SPEC sections 5 and 7):

- a seller whose access is not `active` gets 403 `not-eligible` on creating and
  submitting plans, and 200 on every view, past plans and their performance included;
- a sub-account without `customers` gets 403 on every Customers endpoint, shop status
  and appeals included, and 200 once the owner grants it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from demo.sample_status import sample_status
from schemas.plans import Plan, PlanContent
from schemas.seller import Access
from services.outreach.api.eligibility import NOT_ELIGIBLE
from services.shared.settings import Settings
from tests.integration.delivery.performance_support import (
    PROJECTION_TOPICS,
    publish,
    running_projection,
    shop_events,
    th,
)
from tests.integration.outreach.conftest import ApiUnderTest
from tests.integration.outreach.plans_api import PlansApi, one_time, plans_api, utc_now
from tests.integration.outreach.processor_support import OUTREACH_TOPICS
from tests.integration.outreach.support import assert_problem, eventually, project_status

OVERVIEW = "/v1/overview?from=2024-06-01&to=2024-07-31"
# Every view of the Customers module a seller has.
VIEWS = (
    "/v1/plans",
    "/v1/plans/p-flash",
    "/v1/plans/p-draft",
    "/v1/segments",
    "/v1/segments/repeat_customers",
    OVERVIEW,
    "/v1/templates",
    "/v1/campaigns",
    "/v1/shop/status",
    "/v1/appeals",
)


# The views that name no plan or segment of the seller's.
LISTS = [path for path in VIEWS if not path.endswith(("/p-flash", "/p-draft", "/repeat_customers"))]


def _plan(seller: str, plan_id: str, status: str) -> Plan:
    at = th("2024-06-30")
    return Plan.model_validate(
        {
            "plan_id": plan_id,
            "seller_id": seller,
            "created_by": seller,
            "type": "one_time",
            "name": "July sale",
            "segment_id": "repeat_customers",
            "content": PlanContent(default_language="th", texts={"th": "ลดราคา"}),
            "send_at": at + timedelta(days=1),
            "status": status,
            "version": 1,
            "created_at": at,
            "updated_at": at,
        }
    )


async def _shop_with_history(api: ApiUnderTest, seller: str) -> None:
    """A Bangkok shop with a completed plan whose figures delivery projected, and a draft."""
    await api.runtime.customers.set_markets({seller: "TH"})
    await api.runtime.plans.read_model.put(_plan(seller, "p-flash", "completed"))
    await api.runtime.plans.read_model.put(_plan(seller, "p-draft", "draft"))
    await publish(api.settings, shop_events(seller))

    async def projected() -> bool:
        figures = await api.runtime.performance.plan(seller, "p-flash")
        return bool(figures and figures["coupons_claimed"])

    async with running_projection(api.settings, api.runtime.redis):
        assert await eventually(projected), "delivery's figures of the past plan"


def _not_eligible(response: Any) -> None:
    problem = assert_problem(response, 403)
    assert problem["type"] == NOT_ELIGIBLE
    assert problem["type"].endswith("not-eligible")


@pytest.mark.parametrize("access", ["suspended", "not_enrolled", None])
async def test_a_seller_who_is_not_eligible_views_everything_but_cannot_plan(
    api: ApiUnderTest, topics: Any, test_id: str, access: Access | None
) -> None:
    await topics(*PROJECTION_TOPICS)
    seller = f"seller-{test_id}"
    await _shop_with_history(api, seller)
    if access is not None:  # None: never evaluated, which is not_enrolled too
        level, quota = (None, 0)
        await project_status(
            api.runtime.quota,
            sample_status(seller, access=access, level=level, weekly_quota=quota),
        )
    owner = api.auth(seller)

    _not_eligible(await api.client.post("/v1/plans", json=one_time(), headers=owner))
    _not_eligible(await api.client.post("/v1/plans/p-draft/submit", headers=owner))
    # Whatever the plan: the seller may not create one at all.
    invalid = {**one_time(), "type": "carrier_pigeon"}
    _not_eligible(await api.client.post("/v1/plans", json=invalid, headers=owner))

    for path in VIEWS:
        response = await api.client.get(path, headers=owner)
        assert response.status_code == 200, (path, response.text)
    listed = (await api.client.get("/v1/plans", headers=owner)).json()["items"]
    assert {p["plan_id"] for p in listed} == {"p-flash", "p-draft"}
    past = (await api.client.get("/v1/plans/p-flash", headers=owner)).json()
    assert past["status"] == "completed"
    assert (past["performance"]["delivered"], past["performance"]["orders"]) == (3, 1)
    shop = (await api.client.get("/v1/shop/status", headers=owner)).json()
    assert (shop["access"], shop["weekly_quota"]) == (access or "not_enrolled", 0)
    overview = (await api.client.get(OVERVIEW, headers=owner)).json()
    assert overview["funnel"]["delivered"] > 0, overview
    draft = (await api.client.get("/v1/plans/p-draft", headers=owner)).json()
    assert draft["status"] == "draft", "the refused submit changed nothing"


@pytest.fixture
async def plans(settings: Settings, topics: Any, redis_url: str) -> AsyncIterator[PlansApi]:
    await topics(*OUTREACH_TOPICS, "crm.seller-accounts", "crm.appeals")
    async with plans_api(settings.model_copy(update={"redis_url": redis_url})) as api:
        yield api


async def test_a_suspended_sellers_drafts_stay_editable_and_deletable(
    plans: PlansApi, test_id: str
) -> None:
    seller = f"s{test_id}"
    await plans.set_status(sample_status(seller, occurred_at=utc_now()))
    kept = (await plans.create(seller, one_time()))["plan_id"]
    doomed = (await plans.create(seller, one_time()))["plan_id"]
    await plans.set_status(
        sample_status(seller, access="suspended", level=None, weekly_quota=0, occurred_at=utc_now())
    )
    owner = plans.auth(seller)

    _not_eligible(await plans.act(seller, kept, "submit"))
    _not_eligible(await plans.client.post("/v1/plans", json=one_time(), headers=owner))
    edited = await plans.client.patch(f"/v1/plans/{kept}", json={"name": "Later"}, headers=owner)
    assert edited.status_code == 200, edited.text
    assert (edited.json()["name"], edited.json()["status"]) == ("Later", "draft")
    deleted = await plans.client.delete(f"/v1/plans/{doomed}", headers=owner)
    assert deleted.status_code == 204, deleted.text
    assert_problem(await plans.client.get(f"/v1/plans/{doomed}", headers=owner), 404)
    listed = (await plans.client.get("/v1/plans", headers=owner)).json()["items"]
    assert [p["plan_id"] for p in listed] == [kept]

    # Active again (an approved appeal, say): the same draft submits.
    await plans.set_status(sample_status(seller, occurred_at=utc_now()))
    submitted = await plans.act(seller, kept, "submit")
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "scheduled"


def _customers_operations(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    """Every operation of the seller API but the owner's account management and ops."""
    operations = []
    for path, item in openapi["paths"].items():
        if not path.startswith("/v1/") or path.startswith("/v1/accounts/"):
            continue
        concrete = re.sub(r"\{[^}]+\}", "x-1", path)
        operations += [(method.upper(), concrete) for method in item]
    return sorted(operations)


async def test_a_sub_account_needs_customers_for_every_customers_endpoint(
    api: ApiUnderTest, test_id: str
) -> None:
    seller, helper = f"seller-{test_id}", f"helper-{test_id}"
    await project_status(api.runtime.quota, sample_status(seller))
    sub = api.auth(seller, helper, role="sub")
    operations = _customers_operations((await api.client.get("/openapi.json")).json())
    expected = {
        ("GET", "/v1/shop/status"),
        ("GET", "/v1/appeals"),
        ("POST", "/v1/appeals"),
        ("GET", "/v1/templates"),
        ("GET", "/v1/plans"),
        ("POST", "/v1/plans"),
        ("POST", "/v1/plans/x-1/submit"),
        ("GET", "/v1/segments"),
        ("GET", "/v1/campaigns"),
        ("GET", "/v1/overview"),
    }
    assert expected <= set(operations), operations

    for method, path in operations:
        query = "?from=2024-07-01&to=2024-07-31" if path == "/v1/overview" else ""
        body = {} if method in ("POST", "PUT", "PATCH") else None
        response = await api.client.request(method, path + query, json=body, headers=sub)
        problem = assert_problem(response, 403)
        assert "customers permission" in problem["detail"], (method, path, problem)

    granted = await api.client.put(
        f"/v1/accounts/{helper}/permissions",
        json={"permissions": ["customers"]},
        headers=api.auth(seller),
    )
    assert granted.status_code == 200, granted.text
    for path in LISTS:
        response = await api.client.get(path, headers=sub)
        assert response.status_code == 200, (path, response.text)
    shop = (await api.client.get("/v1/shop/status", headers=sub)).json()
    assert (shop["seller_id"], shop["access"]) == (seller, "active")
