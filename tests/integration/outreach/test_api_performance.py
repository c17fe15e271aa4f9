"""Performance over HTTP: the projection runs in-process on this test's topics, and
GET /v1/plans/{id}, GET /v1/segments/{id} and GET /v1/overview show what it counted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from schemas.plans import Plan, PlanContent
from tests.integration.delivery.performance_support import (
    PROJECTION_TOPICS,
    publish,
    running_projection,
    shop_events,
    th,
)
from tests.integration.outreach.conftest import ApiUnderTest
from tests.integration.outreach.support import assert_problem, eventually


def _plan(seller: str, plan_id: str, segment: str, status: str) -> Plan:
    at = th("2024-06-30")
    return Plan.model_validate(
        {
            "plan_id": plan_id,
            "seller_id": seller,
            "created_by": seller,
            "type": "one_time",
            "name": "July sale",
            "segment_id": segment,
            "content": PlanContent(default_language="th", texts={"th": "ลดราคา"}),
            "send_at": at + timedelta(days=1),
            "status": status,
            "version": 1,
            "created_at": at,
            "updated_at": at,
        }
    )


@pytest.fixture
async def seller(api: ApiUnderTest, topics: Any, test_id: str) -> Any:
    """A Bangkok shop whose two plans were sent, engaged with and ordered from, projected."""
    await topics(*PROJECTION_TOPICS)
    seller = f"seller-{test_id}"
    await api.runtime.customers.set_markets({seller: "TH"})
    read_model = api.runtime.plans.read_model
    await read_model.put(_plan(seller, "p-flash", "repeat_customers", "completed"))
    await read_model.put(_plan(seller, "p-draft", "repeat_customers", "draft"))
    await publish(api.settings, shop_events(seller))
    reader = api.runtime.performance

    async def projected() -> bool:
        flash = await reader.plan(seller, "p-flash")
        new = await reader.plan(seller, "p-new")
        return bool(flash and flash["coupons_claimed"] and new and new["orders"])

    async with running_projection(api.settings, api.runtime.redis):
        assert await eventually(projected)
    return seller


async def test_a_plan_shows_its_figures_once_dispatched(api: ApiUnderTest, seller: str) -> None:
    owner = api.auth(seller)
    plan = await api.client.get("/v1/plans/p-flash", headers=owner)
    assert plan.status_code == 200, plan.text
    assert plan.json()["status"] == "completed"
    assert plan.json()["performance"] == {
        "recipients": 4,
        "suppressed": {"blocked": 1},
        "sent": 3,
        "delivered": 3,
        "read": 2,
        "clicked": 1,
        "failed": 1,
        "orders": 1,
        "gmv": 100.0,
        "coupons_claimed": 1,
    }
    draft = await api.client.get("/v1/plans/p-draft", headers=owner)
    assert draft.status_code == 200, draft.text
    assert draft.json()["performance"] is None
    # Another seller's plan is not found, figures or not.
    other = await api.client.get("/v1/plans/p-flash", headers=api.auth(f"{seller}-other"))
    assert_problem(other, 404)


async def test_a_segment_sums_the_plans_that_targeted_it(api: ApiUnderTest, seller: str) -> None:
    owner = api.auth(seller)
    repeat = await api.client.get("/v1/segments/repeat_customers", headers=owner)
    assert repeat.status_code == 200, repeat.text
    performance = repeat.json()["performance_live"]
    assert (performance["plans"], performance["recipients"], performance["delivered"]) == (1, 4, 3)
    new = (await api.client.get("/v1/segments/new_customers", headers=owner)).json()
    assert new["performance_live"] == {
        "plans": 1,
        "recipients": 1,
        "suppressed": {},
        "sent": 1,
        "delivered": 1,
        "read": 0,
        "clicked": 0,
        "failed": 0,
        "orders": 1,
        "gmv": 20.5,
        "coupons_claimed": 0,
    }
    untouched = (await api.client.get("/v1/segments/lapsed_customers", headers=owner)).json()
    assert untouched["performance_live"] is None


ZEROS = {
    "plans": 0,
    "recipients": 0,
    "suppressed": {},
    "sent": 0,
    "delivered": 0,
    "read": 0,
    "clicked": 0,
    "failed": 0,
    "orders": 0,
    "gmv": 0.0,
    "coupons_claimed": 0,
}


async def test_a_segment_shows_its_daily_snapshot_as_of_yesterday_never_null(
    api: ApiUnderTest, seller: str
) -> None:
    """Today is 3 July in Bangkok: the figures are those of the plans sent on 1 and 2 July
    up to the end of 2 July. The orders of 3 July and the claim of 4 July come later."""
    owner = api.auth(seller)
    listing = await api.client.get("/v1/segments", headers=owner)
    assert listing.status_code == 200, listing.text
    shown = {s["segment_id"]: s["performance"] for s in listing.json()["items"]}
    assert shown["repeat_customers"] == {
        "as_of": "2024-07-02",
        "plans": 1,
        "recipients": 4,
        "suppressed": {"blocked": 1},
        "sent": 3,
        "delivered": 3,
        "read": 2,
        "clicked": 1,
        "failed": 1,
        "orders": 0,
        "gmv": 0.0,
        "coupons_claimed": 0,
    }
    assert shown["new_customers"] == {
        **ZEROS,
        "as_of": "2024-07-02",
        "plans": 1,
        "recipients": 1,
        "sent": 1,
        "delivered": 1,
    }
    # A segment no plan targeted: zeros, never null.
    assert shown["lapsed_customers"] == {**ZEROS, "as_of": "2024-07-02"}
    one = (await api.client.get("/v1/segments/repeat_customers", headers=owner)).json()
    assert one["performance"] == shown["repeat_customers"]

    # Two days on, the snapshot is as of 4 July: the orders of 3 July and the claim count.
    api.clock.now += timedelta(days=2)
    later = (await api.client.get("/v1/segments/new_customers", headers=api.auth(seller))).json()
    assert later["performance"] == {**later["performance_live"], "as_of": "2024-07-04"}
    assert (later["performance"]["orders"], later["performance"]["gmv"]) == (1, 20.5)
    repeat = await api.client.get("/v1/segments/repeat_customers", headers=api.auth(seller))
    assert repeat.json()["performance"]["coupons_claimed"] == 1


async def test_the_overview_shows_the_funnel_and_segments_of_market_local_days(
    api: ApiUnderTest, seller: str
) -> None:
    owner = api.auth(seller)
    july = await api.client.get("/v1/overview?from=2024-07-01&to=2024-07-31", headers=owner)
    assert july.status_code == 200, july.text
    assert july.json() == {
        "from": "2024-07-01",
        "to": "2024-07-31",
        "funnel": {"delivered": 4, "read": 2, "clicked": 1, "ordered": 2},
        "segments": [
            {
                "segment_id": "new_customers",
                "delivered": 1,
                "read": 0,
                "clicked": 0,
                "orders": 1,
                "gmv": 20.5,
            },
            {
                "segment_id": "repeat_customers",
                "delivered": 3,
                "read": 2,
                "clicked": 1,
                "orders": 1,
                "gmv": 100.0,
            },
        ],
        "market": "TH",
        "time_zone": "Asia/Bangkok",
    }

    async def funnel(day: str) -> dict[str, int]:
        answer = await api.client.get(f"/v1/overview?from={day}&to={day}", headers=owner)
        assert answer.status_code == 200, answer.text
        shown: dict[str, int] = answer.json()["funnel"]
        return shown

    # c1's second read (2 July) was not counted again; c4's order at 06:00 on 3 July in
    # Bangkok (23:00 UTC on 2 July) is on 3 July.
    assert await funnel("2024-07-01") == {"delivered": 3, "read": 2, "clicked": 1, "ordered": 0}
    assert await funnel("2024-07-02") == {"delivered": 1, "read": 0, "clicked": 0, "ordered": 0}
    assert await funnel("2024-07-03") == {"delivered": 0, "read": 0, "clicked": 0, "ordered": 2}
    other = await api.client.get(
        "/v1/overview?from=2024-07-01&to=2024-07-31", headers=api.auth(f"{seller}-other")
    )
    assert other.json()["funnel"] == {"delivered": 0, "read": 0, "clicked": 0, "ordered": 0}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2024-07-01", "query.to"),
        ("to=2024-07-01", "query.from"),
        ("from=2024-07-32&to=2024-08-01", "query.from"),
        ("from=yesterday&to=2024-08-01", "query.from"),
        ("from=2024-07-02&to=2024-07-01", "query.to"),
        ("from=2023-07-01&to=2024-07-01", "query.to"),  # 367 days
    ],
)
async def test_a_bad_range_is_a_422(api: ApiUnderTest, query: str, field: str) -> None:
    answer = await api.client.get(f"/v1/overview?{query}", headers=api.auth("s1"))
    problem = assert_problem(answer, 422)
    assert [e["field"] for e in problem["errors"]] == [field]


async def test_the_longest_range_is_366_days(api: ApiUnderTest) -> None:
    answer = await api.client.get(
        "/v1/overview?from=2024-01-01&to=2024-12-31", headers=api.auth("s1")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["funnel"] == {"delivered": 0, "read": 0, "clicked": 0, "ordered": 0}


async def test_the_overview_needs_a_token_and_the_customers_permission(api: ApiUnderTest) -> None:
    path = "/v1/overview?from=2024-07-01&to=2024-07-31"
    assert_problem(await api.client.get(path), 401)
    sub = api.auth("s1", "s1-helper", role="sub")
    assert_problem(await api.client.get(path, headers=sub), 403)
