"""Plan content over real HTTP: unknown placeholders are refused naming the text, the
templates say what plan each suits, and an automated template lends its trigger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from demo.sample_status import sample_status
from services.shared.settings import Settings
from tests.integration.outreach.plans_api import PlansApi, automated, one_time, plans_api, utc_now
from tests.integration.outreach.processor_support import OUTREACH_TOPICS
from tests.integration.outreach.support import assert_problem

TOPICS = (*OUTREACH_TOPICS, "crm.seller-accounts", "crm.appeals")


@pytest.fixture
async def api(settings: Settings, topics: Any, redis_url: str) -> AsyncIterator[PlansApi]:
    await topics(*TOPICS)
    async with plans_api(settings.model_copy(update={"redis_url": redis_url})) as api:
        yield api


async def _active(api: PlansApi, seller: str) -> None:
    await api.set_status(sample_status(seller, level=2, weekly_quota=3, occurred_at=utc_now()))


def _fields(problem: dict[str, Any]) -> list[str]:
    return [error["field"] for error in problem["errors"]]


async def test_an_unknown_placeholder_is_422_naming_the_text_on_create_and_edit(
    api: PlansApi, test_id: str
) -> None:
    seller = f"s{test_id}"
    await _active(api, seller)
    body = one_time()
    body["content"]["texts"]["th"] = "ลดราคา {product_name} ที่ {shop_name}"
    created = await api.client.post("/v1/plans", json=body, headers=api.auth(seller))
    problem = assert_problem(created, 422)
    assert _fields(problem) == ["content.texts.th"]
    assert "{product_name}" in problem["errors"][0]["message"]

    draft = await api.create(seller, one_time())
    content = {**draft["content"], "texts": {"th": "ลดราคา", "en": "Hi {name}!"}}
    edited = await api.client.patch(
        f"/v1/plans/{draft['plan_id']}", json={"content": content}, headers=api.auth(seller)
    )
    assert _fields(assert_problem(edited, 422)) == ["content.texts.en"]
    assert (await api.get(seller, draft["plan_id"]))["content"] == draft["content"]


async def test_templates_show_kind_description_button_and_trigger(
    api: PlansApi, test_id: str
) -> None:
    seller = f"s{test_id}"
    await _active(api, seller)
    response = await api.client.get("/v1/templates", headers=api.auth(seller))
    assert response.status_code == 200, response.text
    items = {t["template_id"]: t for t in response.json()["items"]}
    flash, cart = items["flash_sale"], items["cart_reminder"]
    assert (flash["kind"], flash["trigger"]) == ("one_time", None)
    assert flash["description"]
    assert flash["suggested_button"] == {"type": "product_list"}
    assert {"customer_name", "shop_name"} <= set(flash["placeholders"])
    assert cart["kind"] == "automated"
    assert cart["trigger"] == {"type": "cart_abandoned", "after_hours": 24, "after_days": None}
    assert items["win_back"]["trigger"] == {
        "type": "win_back",
        "after_hours": None,
        "after_days": 60,
    }
    for template in items.values():
        assert (template["trigger"] is None) == (template["kind"] == "one_time"), template


async def test_an_automated_plan_from_a_template_without_trigger_takes_the_templates(
    api: PlansApi, test_id: str
) -> None:
    seller = f"s{test_id}"
    await _active(api, seller)
    body = automated()
    del body["trigger"]
    created = await api.create(seller, body)
    assert created["trigger"] == {"type": "cart_abandoned", "after_hours": 24, "after_days": None}
    own = await api.create(seller, automated(trigger={"type": "cart_abandoned", "after_hours": 6}))
    assert own["trigger"]["after_hours"] == 6
    no_template = automated()
    del no_template["trigger"]
    no_template["content"] = {"default_language": "en", "texts": {"en": "Come back!"}}
    refused = await api.client.post("/v1/plans", json=no_template, headers=api.auth(seller))
    assert "trigger" in _fields(assert_problem(refused, 422))
