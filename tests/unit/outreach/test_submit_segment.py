"""Submit checks the plan's segment again: one deleted after the plan was saved makes the
submit `rejected`/`invalid_plan`, and no quota unit is taken."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from demo.sample_status import sample_status
from schemas.campaigns import CampaignAnnounced
from schemas.plans import CreatePlan, PlanContent, PlanDraft, SubmitPlan
from services.outreach.handlers import Handlers
from services.outreach.plan_book import Draft, PlanBook
from services.quota.port import InMemoryQuota

NOW = datetime(2024, 7, 3, 5, 0, tzinfo=UTC)


class NoCampaigns:
    async def campaign(self, campaign_id: str) -> CampaignAnnounced | None:
        return None


SELLER = "seller-1"


def _fields(plan_id: str) -> dict[str, object]:
    return {
        "event_id": uuid.uuid4(),
        "occurred_at": NOW,
        "correlation_id": uuid.uuid4(),
        "seller_id": SELLER,
        "account_id": "owner-1",
        "plan_id": plan_id,
    }


def _draft(segment_id: str) -> PlanDraft:
    return PlanDraft(
        type="one_time",
        name="Sale",
        segment_id=segment_id,
        content=PlanContent(default_language="en", texts={"en": "Sale"}),
        send_at=NOW + timedelta(hours=2),
    )


@pytest.mark.parametrize(
    ("segment_id", "live", "status", "reason", "used"),
    [
        ("custom-java", frozenset({"custom-java"}), "scheduled", None, 1),
        ("custom-java", frozenset(), "rejected", "invalid_plan", 0),
        ("repeat_customers", frozenset(), "scheduled", None, 1),
    ],
)
async def test_submit_rejects_a_plan_whose_segment_is_gone_before_taking_quota(
    segment_id: str, live: frozenset[str], status: str, reason: str | None, used: int
) -> None:
    quota = InMemoryQuota(clock=lambda: NOW)
    quota.set_status(sample_status(SELLER, weekly_quota=3))

    async def live_segments(seller_id: str) -> frozenset[str]:
        assert seller_id == SELLER
        return live

    handlers = Handlers(quota, NoCampaigns(), live_segments)
    draft = Draft(PlanBook())
    created = await handlers.command(
        draft, CreatePlan(**_fields("p1"), draft=_draft(segment_id)), NOW
    )
    assert created.answer is not None
    assert created.answer.outcome == "applied"

    submitted = await handlers.command(draft, SubmitPlan(**_fields("p1")), NOW)

    assert submitted.answer is not None
    assert submitted.answer.plan is not None
    assert (submitted.answer.plan.status, submitted.answer.plan.reason) == (status, reason)
    assert (await quota.usage(SELLER, NOW + timedelta(hours=2))).used == used
