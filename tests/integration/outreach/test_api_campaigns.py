"""Campaign plans over real HTTP against uvicorn, the plan processor (with its campaign
calendar consumer), Kafka and Redis: a campaign plan needs a live campaign, sends inside
its window and market, and counts against the campaign's per-seller limit, never the
weekly quota."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from demo.sample_status import sample_status
from schemas.campaigns import CampaignAnnounced
from schemas.quota import CampaignQuotaReleased, CampaignQuotaReserved
from services.quota.port import CampaignLimit
from services.shared.codec import decode
from services.shared.settings import Settings
from tests.integration.kafka_io import read_records
from tests.integration.outreach.plans_api import PlansApi, one_time, plans_api, utc_now
from tests.integration.outreach.processor_support import OUTREACH_TOPICS, campaign
from tests.integration.outreach.support import assert_problem


@pytest.fixture
async def api(settings: Settings, topics: Any, redis_url: str) -> AsyncIterator[PlansApi]:
    await topics(*OUTREACH_TOPICS)
    async with plans_api(settings.model_copy(update={"redis_url": redis_url})) as api:
        yield api


def _campaign_plan(campaign_id: str | None, send_at: datetime | None = None) -> dict[str, Any]:
    body = one_time(type="campaign", campaign_id=campaign_id)
    if send_at is None:
        del body["send_at"]
        body["send_now"] = True
    else:
        body["send_at"] = send_at.isoformat()
    return body


async def _submit(api: PlansApi, seller: str, body: dict[str, Any]) -> dict[str, Any]:
    plan = await api.create(seller, body)
    response = await api.act(seller, plan["plan_id"], "submit")
    assert response.status_code == 200, response.text
    submitted: dict[str, Any] = response.json()
    return submitted


async def _weekly_used(api: PlansApi, seller: str) -> int:
    shop = (await api.client.get("/v1/shop/status", headers=api.auth(seller))).json()
    used: int = shop["quota_used"]
    return used


async def _campaign_used(api: PlansApi, seller: str, sale: CampaignAnnounced) -> int:
    limit = CampaignLimit(sale.campaign_id, sale.plans_per_seller, sale.ends_at)
    return (await api.runtime.quota.usage(seller, utc_now(), limit)).used


async def test_a_campaign_plan_counts_against_its_campaign_not_the_weekly_quota(
    api: PlansApi, test_id: str
) -> None:
    seller = f"s{test_id}"
    await api.set_status(sample_status(seller, weekly_quota=1, occurred_at=utc_now()))
    sale = campaign(f"sale-{test_id}", plans_per_seller=2)
    await api.announce(sale)

    inside = await _submit(
        api, seller, _campaign_plan(sale.campaign_id, utc_now() + timedelta(hours=3))
    )
    now = await _submit(api, seller, _campaign_plan(sale.campaign_id))
    over = await _submit(
        api, seller, _campaign_plan(sale.campaign_id, utc_now() + timedelta(hours=4))
    )

    assert (inside["status"], inside["reason"], inside["campaign_id"]) == (
        "scheduled",
        None,
        sale.campaign_id,
    )
    assert (now["status"], now["reason"]) == ("sending", None)
    # Over the campaign's per-seller limit: refused, and no weekly unit taken instead.
    assert (over["status"], over["reason"]) == ("rejected", "quota_exhausted")
    assert await _weekly_used(api, seller) == 0
    assert await _campaign_used(api, seller, sale) == 2
    listed = (await api.client.get("/v1/campaigns", headers=api.auth(seller))).json()["items"]
    assert [
        (c["campaign_id"], c["live"], c["plans_per_seller"], c["plans_used"], c["plans_left"])
        for c in listed
    ] == [(sale.campaign_id, True, 2, 2, 0)]

    # A cancel before dispatch gives the campaign's unit back (the weekly quota never
    # had it); the freed unit takes the next campaign plan.
    cancelled = await api.act(seller, inside["plan_id"], "cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert await _campaign_used(api, seller, sale) == 1
    again = await _submit(
        api, seller, _campaign_plan(sale.campaign_id, utc_now() + timedelta(hours=5))
    )
    assert again["status"] == "scheduled"
    one_time_plan = await _submit(api, seller, one_time())
    assert one_time_plan["status"] == "scheduled", "the weekly quota is still whole"

    ledger = [
        decode("crm.quota-ledger", r.value)
        for r in await read_records(api.settings, "crm.quota-ledger", count=5)
    ]
    facts = [
        (type(e).__name__, e.plan_id)
        for e in ledger
        if isinstance(e, CampaignQuotaReserved | CampaignQuotaReleased)
    ]
    assert facts == [
        ("CampaignQuotaReserved", inside["plan_id"]),
        ("CampaignQuotaReserved", now["plan_id"]),
        ("CampaignQuotaReleased", inside["plan_id"]),
        ("CampaignQuotaReserved", again["plan_id"]),
    ]


async def test_a_campaign_plan_without_a_live_campaign_is_rejected(
    api: PlansApi, test_id: str
) -> None:
    seller = f"s{test_id}"
    await api.set_status(sample_status(seller, market="TH", weekly_quota=3, occurred_at=utc_now()))
    later = campaign(f"later-{test_id}", starts_in=timedelta(days=3), plans_per_seller=5)
    elsewhere = campaign(f"gb-{test_id}", markets=("GB", "US"), plans_per_seller=5)
    await api.announce(later)
    await api.announce(elsewhere)

    refused = {
        "unknown campaign": _campaign_plan(f"nope-{test_id}", utc_now() + timedelta(hours=1)),
        "before its window": _campaign_plan(later.campaign_id, utc_now() + timedelta(hours=1)),
        "after its window": _campaign_plan(later.campaign_id, later.ends_at + timedelta(hours=1)),
        "send now, not live": _campaign_plan(later.campaign_id),
        "not in the seller's market": _campaign_plan(elsewhere.campaign_id),
    }
    answers = {case: await _submit(api, seller, body) for case, body in refused.items()}

    assert {case: (a["status"], a["reason"]) for case, a in answers.items()} == {
        case: ("rejected", "invalid_plan") for case in refused
    }
    assert await _weekly_used(api, seller) == 0
    assert await _campaign_used(api, seller, later) == 0
    assert await _campaign_used(api, seller, elsewhere) == 0
    # The seller (TH) is shown the campaign yet to start, not the one of other markets.
    listed = (await api.client.get("/v1/campaigns", headers=api.auth(seller))).json()["items"]
    assert [(c["campaign_id"], c["live"]) for c in listed] == [(later.campaign_id, False)]

    # A corrected announcement replaces the first: the campaign now runs already.
    corrected = later.model_copy(
        update={"event_id": uuid.uuid4(), "starts_at": utc_now() - timedelta(minutes=1)}
    )
    await api.announce(corrected)
    live = await _submit(api, seller, _campaign_plan(later.campaign_id))
    assert live["status"] == "sending"


async def test_a_campaign_plan_names_its_campaign_when_saved(api: PlansApi, test_id: str) -> None:
    seller = f"s{test_id}"
    await api.set_status(sample_status(seller, weekly_quota=3, occurred_at=utc_now()))
    missing = await api.client.post(
        "/v1/plans", json=_campaign_plan(None), headers=api.auth(seller)
    )
    assert assert_problem(missing, 422)["errors"][0]["field"] == "campaign_id"
    stray = await api.client.post(
        "/v1/plans", json=one_time(campaign_id="sale"), headers=api.auth(seller)
    )
    assert assert_problem(stray, 422)["errors"][0]["field"] == "campaign_id"

    draft = await api.create(seller, one_time())
    to_campaign = await api.client.patch(
        f"/v1/plans/{draft['plan_id']}", json={"type": "campaign"}, headers=api.auth(seller)
    )
    body = assert_problem(to_campaign, 422)
    assert [e["field"] for e in body["errors"]] == ["campaign_id"]
    unchanged = await api.get(seller, draft["plan_id"])
    assert (unchanged["type"], unchanged["version"]) == ("one_time", 1)
