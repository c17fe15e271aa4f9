"""The plan state machine of SPEC section 5, table-driven."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schemas.plans import CompletePlan, CreatePlan, EditPlan, Plan, PlanContent, PlanDraft
from services.outreach.domain import lifecycle
from services.outreach.domain.lifecycle import SELLER_ACTIONS, Change, QuotaNeeded, Refusal

NOW = datetime(2024, 7, 3, 12, 0, tzinfo=ZoneInfo("Asia/Bangkok"))


def _draft(**fields: Any) -> PlanDraft:
    values: dict[str, Any] = {
        "type": "one_time",
        "name": "Sale",
        "segment_id": "repeat_customers",
        "content": PlanContent(default_language="en", texts={"en": "Hi"}),
        "send_at": NOW + timedelta(days=1),
    }
    return PlanDraft.model_validate({**values, **fields})


def _plan(status: str = "draft", **fields: Any) -> Plan:
    draft = _draft(**{k: v for k, v in fields.items() if k in PlanDraft.model_fields})
    rest = {k: v for k, v in fields.items() if k not in PlanDraft.model_fields}
    return Plan(
        **dict(draft),
        plan_id="p1",
        seller_id="s1",
        created_by="owner",
        status=status,  # type: ignore[arg-type]
        version=3,
        created_at=NOW,
        updated_at=NOW,
        **rest,
    )


def _ids() -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "occurred_at": NOW,
        "correlation_id": uuid.uuid4(),
        "seller_id": "s1",
        "account_id": "owner",
        "plan_id": "p1",
    }


ALL_STATUSES = list(SELLER_ACTIONS)


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        ("draft", {"view", "edit", "delete", "submit"}),
        ("scheduled", {"view", "cancel"}),
        ("sending", {"view"}),
        ("completed", {"view"}),
        ("ongoing", {"view", "cancel"}),
        ("ended", {"view"}),
        ("cancelled", {"view"}),
        ("rejected", {"view"}),
    ],
)
def test_the_status_table_of_spec_section_5(status: str, allowed: set[str]) -> None:
    assert SELLER_ACTIONS[status] == allowed  # type: ignore[index]


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_every_forbidden_seller_action_is_refused_with_the_status(status: str) -> None:
    plan = _plan(status)
    attempts = {
        "edit": lambda: lifecycle.edit(
            plan, EditPlan(**_ids(), draft=_draft(), expected_version=3), NOW
        ),
        "delete": lambda: lifecycle.delete(plan, NOW),
        "submit": lambda: lifecycle.begin_submit(plan, "active", [], NOW),
        "cancel": lambda: lifecycle.cancel(plan, NOW),
    }
    for action, attempt in attempts.items():
        result = attempt()
        if action in SELLER_ACTIONS[status]:  # type: ignore[index]
            assert not isinstance(result, Refusal), (status, action)
        else:
            assert isinstance(result, Refusal), (status, action)
            assert result.outcome == "forbidden_action"
            assert status in result.detail


def test_create_makes_a_draft_and_a_retry_answers_with_it() -> None:
    command = CreatePlan(**_ids(), draft=_draft())
    made = lifecycle.create(None, command, NOW)
    assert isinstance(made, Change)
    assert (made.event, made.plan.status, made.plan.version) == ("PlanCreated", "draft", 1)
    again = lifecycle.create(made.plan, command, NOW)
    assert isinstance(again, Change)
    assert again.plan == made.plan
    stranger = CreatePlan(**{**_ids(), "account_id": "someone-else"}, draft=_draft())
    assert isinstance(lifecycle.create(made.plan, stranger, NOW), Refusal)


def test_an_edit_based_on_an_old_version_is_a_conflict() -> None:
    stale = lifecycle.edit(_plan(), EditPlan(**_ids(), draft=_draft(), expected_version=2), NOW)
    assert isinstance(stale, Refusal)
    assert stale.outcome == "version_conflict"
    fresh = lifecycle.edit(
        _plan(), EditPlan(**_ids(), draft=_draft(name="New"), expected_version=3), NOW
    )
    assert isinstance(fresh, Change)
    assert (fresh.plan.name, fresh.plan.version, fresh.plan.status) == ("New", 4, "draft")


@pytest.mark.parametrize(
    ("access", "problems", "expected"),
    [
        ("active", [], "quota"),
        ("suspended", [], ("PlanRejected", "not_eligible")),
        ("not_enrolled", [], ("PlanRejected", "not_eligible")),
        (None, [], ("PlanRejected", "not_eligible")),
        ("active", ["send_at passed"], ("PlanRejected", "invalid_plan")),
    ],
)
def test_submit_of_a_one_time_plan(access: Any, problems: list[str], expected: Any) -> None:
    step = lifecycle.begin_submit(_plan(), access, problems, NOW)
    if expected == "quota":
        assert isinstance(step, QuotaNeeded)
        assert step.at == NOW + timedelta(days=1) == step.plan.quota_at
    else:
        assert isinstance(step, Change)
        assert (step.event, step.plan.reason) == expected


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("reserved", ("PlanScheduled", "scheduled", None)),
        ("already_reserved", ("PlanScheduled", "scheduled", None)),
        ("quota_exhausted", ("PlanRejected", "rejected", "quota_exhausted")),
        ("already_released", ("PlanRejected", "rejected", "quota_exhausted")),
    ],
)
def test_finish_submit_follows_the_quota_answer(outcome: str, expected: tuple[Any, ...]) -> None:
    step = lifecycle.begin_submit(_plan(), "active", [], NOW)
    assert isinstance(step, QuotaNeeded)
    change = lifecycle.finish_submit(step, outcome, NOW)
    assert (change.event, change.plan.status, change.plan.reason) == expected


def test_send_now_starts_sending_at_once_and_its_unit_is_this_week() -> None:
    plan = _plan(send_at=None, send_now=True)
    step = lifecycle.begin_submit(plan, "active", [], NOW)
    assert isinstance(step, QuotaNeeded)
    assert step.at == NOW
    change = lifecycle.finish_submit(step, "reserved", NOW)
    assert (change.event, change.plan.status, change.plan.dispatched_at) == (
        "PlanDispatched",
        "sending",
        NOW,
    )


def test_automated_plans_skip_the_quota_and_campaign_plans_take_their_campaigns() -> None:
    auto = _plan(
        type="automated",
        send_at=None,
        trigger={"type": "new_follower"},
        starts_at=NOW,
        ends_at=NOW + timedelta(days=3),
    )
    started = lifecycle.begin_submit(auto, "active", [], NOW)
    assert isinstance(started, Change)
    assert started.plan.status == "ongoing"
    # A campaign plan takes a unit of its campaign's per-seller limit first (the handler
    # asks the quota port for the campaign's counter, never the week's).
    campaign = lifecycle.begin_submit(_plan(type="campaign", campaign_id="sale"), "active", [], NOW)
    assert isinstance(campaign, QuotaNeeded)
    assert campaign.at == NOW + timedelta(days=1)
    assert lifecycle.finish_submit(campaign, "reserved", NOW).plan.status == "scheduled"
    over_limit = lifecycle.finish_submit(campaign, "quota_exhausted", NOW).plan
    assert (over_limit.status, over_limit.reason) == ("rejected", "quota_exhausted")


def test_a_campaign_problem_rejects_the_plan_as_invalid() -> None:
    rejected = lifecycle.begin_submit(
        _plan(type="campaign", campaign_id="sale"), "active", ["outside_campaign_window"], NOW
    )
    assert isinstance(rejected, Change)
    assert (rejected.plan.status, rejected.plan.reason) == ("rejected", "invalid_plan")


@pytest.mark.parametrize(
    ("status", "due", "expected"),
    [
        ("scheduled", NOW, "sending"),
        ("scheduled", NOW + timedelta(seconds=1), None),
        ("draft", NOW - timedelta(days=1), None),
    ],
)
def test_a_scheduled_plan_dispatches_when_send_at_comes(
    status: str, due: datetime, expected: Any
) -> None:
    change = lifecycle.on_due(_plan(status, send_at=due), NOW)
    assert (change.plan.status if change else None) == expected


def test_an_ongoing_plan_ends_with_its_timeframe() -> None:
    plan = _plan(
        "ongoing",
        type="automated",
        send_at=None,
        trigger={"type": "win_back"},
        starts_at=NOW - timedelta(days=2),
        ends_at=NOW.astimezone(UTC),
    )
    change = lifecycle.on_due(plan, NOW)
    assert change is not None
    assert (change.event, change.plan.status) == ("PlanEnded", "ended")
    assert lifecycle.on_due(plan, NOW - timedelta(microseconds=1)) is None


@pytest.mark.parametrize(
    ("status", "submitted", "cancelled"),
    [
        ("scheduled", NOW - timedelta(hours=1), True),
        ("ongoing", NOW - timedelta(hours=1), True),
        ("scheduled", NOW, False),  # accepted under a later status
        ("scheduled", NOW + timedelta(hours=1), False),
        ("sending", NOW - timedelta(hours=1), False),
        ("draft", None, False),
    ],
)
def test_a_suspension_cancels_what_was_scheduled_or_running_before_it(
    status: str, submitted: datetime | None, cancelled: bool
) -> None:
    plan = _plan(status, submitted_at=submitted)
    change = lifecycle.on_suspension(plan, NOW, NOW + timedelta(minutes=5))
    if cancelled:
        assert change is not None
        assert (change.plan.status, change.plan.reason) == ("cancelled", "seller_suspended")
    else:
        assert change is None


def test_only_a_sending_plan_completes_with_its_counts() -> None:
    command = CompletePlan(**_ids(), recipients=5, sent=4, suppressed={"blocked": 1})
    done = lifecycle.complete(_plan("sending"), command, NOW)
    assert isinstance(done, Change)
    assert (done.plan.status, done.plan.sent, done.plan.suppressed) == (
        "completed",
        4,
        {"blocked": 1},
    )
    assert isinstance(lifecycle.complete(_plan("scheduled"), command, NOW), Refusal)
