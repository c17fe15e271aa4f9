"""The campaign rules a submit applies (SPEC sections 4-5): a known campaign, its window
[starts_at, ends_at), its markets; table-driven, no clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from schemas.campaigns import CampaignAnnounced
from schemas.plans import PlanContent, PlanDraft
from services.outreach.domain.campaigns import campaign_problems, inside

pytestmark = pytest.mark.unit

STARTS = datetime(2024, 7, 6, 17, 0, tzinfo=UTC)  # 7 July 00:00 in Bangkok
ENDS = STARTS + timedelta(days=2)
SALE = CampaignAnnounced(
    event_id=uuid.uuid4(),
    occurred_at=STARTS - timedelta(days=10),
    campaign_id="sale-7-7",
    name="7.7 Mega Sale",
    markets=["TH", "ID"],
    starts_at=STARTS,
    ends_at=ENDS,
    plans_per_seller=2,
)


def _plan(**fields: Any) -> PlanDraft:
    values: dict[str, Any] = {
        "type": "campaign",
        "name": "7.7",
        "segment_id": "repeat_customers",
        "content": PlanContent(default_language="en", texts={"en": "Hi"}),
        "send_at": STARTS + timedelta(hours=1),
        "campaign_id": "sale-7-7",
    }
    return PlanDraft.model_validate({**values, **fields})


def _codes(plan: PlanDraft, *, campaign: CampaignAnnounced | None = SALE, **kw: Any) -> set[str]:
    market = kw.get("market", "TH")
    now = kw.get("now", STARTS - timedelta(days=1))
    return {p.code for p in campaign_problems(plan, campaign, market, now)}


@pytest.mark.parametrize(
    ("send_at", "codes"),
    [
        (STARTS - timedelta(microseconds=1), {"outside_campaign_window"}),
        (STARTS, set()),
        (STARTS + timedelta(days=1), set()),
        # Offsets do not matter: the same instant as ENDS minus a microsecond, in Bangkok.
        ((ENDS - timedelta(microseconds=1)).astimezone(timezone(timedelta(hours=7))), set()),
        (ENDS, {"outside_campaign_window"}),
        (ENDS + timedelta(days=3), {"outside_campaign_window"}),
    ],
)
def test_a_scheduled_campaign_plan_sends_inside_the_window(
    send_at: datetime, codes: set[str]
) -> None:
    assert _codes(_plan(send_at=send_at)) == codes


@pytest.mark.parametrize(
    ("now", "codes"),
    [
        (STARTS - timedelta(seconds=1), {"campaign_not_live"}),
        (STARTS, set()),
        (ENDS - timedelta(seconds=1), set()),
        (ENDS, {"campaign_not_live"}),
    ],
)
def test_send_now_only_while_the_campaign_is_live(now: datetime, codes: set[str]) -> None:
    assert _codes(_plan(send_at=None, send_now=True), now=now) == codes


@pytest.mark.parametrize(
    ("market", "codes"), [("TH", set()), ("ID", set()), ("GB", {"campaign_not_in_market"})]
)
def test_a_campaign_plan_sends_in_one_of_the_campaigns_markets(
    market: str, codes: set[str]
) -> None:
    assert _codes(_plan(), market=market) == codes


def test_without_a_campaign_the_plan_is_refused() -> None:
    assert _codes(_plan(), campaign=None) == {"unknown_campaign"}
    assert _codes(_plan(campaign_id=None), campaign=None) == {"campaign_missing"}


def test_every_problem_is_reported_at_once() -> None:
    problems = campaign_problems(_plan(send_at=ENDS), SALE, "US", STARTS)
    assert {(p.field, p.code) for p in problems} == {
        ("campaign_id", "campaign_not_in_market"),
        ("send_at", "outside_campaign_window"),
    }
    assert "TH, ID" in problems[0].message


def test_a_seller_without_a_market_is_left_to_the_access_rule() -> None:
    assert _codes(_plan(), market=None) == set()


def test_other_plan_types_have_no_campaign_problems() -> None:
    one_time = _plan(type="one_time", campaign_id=None)
    assert campaign_problems(one_time, None, "TH", STARTS) == []


def test_the_window_is_half_open() -> None:
    assert (inside(SALE, STARTS), inside(SALE, ENDS)) == (True, False)
