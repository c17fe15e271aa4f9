"""Which automated plans the engine fires for, folded from crm.plan-events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from schemas.plans import Plan, PlanContent
from services.customers.firing.events import firing_id, plan_fired
from services.customers.firing.plans import LivePlans, PlanChange, live_plan
from tests.unit.customers.builders import utc

pytestmark = pytest.mark.unit

T = utc("2024-06-10T09:30")
DAY = timedelta(days=1)


def plan(version: int, status: str = "ongoing", **fields: Any) -> Plan:
    values: dict[str, Any] = {
        "plan_id": "plan-1",
        "seller_id": "s1",
        "created_by": "s1-owner",
        "type": "automated",
        "name": "Cart reminder",
        "segment_id": "cart_abandoners",
        "content": PlanContent(default_language="en", texts={"en": "Still thinking?"}),
        "trigger": {"type": "cart_abandoned"},
        "starts_at": T,
        "ends_at": T + 7 * DAY,
        "status": status,
        "version": version,
        "created_at": T - DAY,
        "updated_at": T - DAY,
        "submitted_at": T - DAY,
    }
    return Plan.model_validate({**values, **fields})


def test_a_started_plan_is_live_until_cancelled() -> None:
    plans = LivePlans()
    assert plans.apply(plan(1, "draft")) is None
    assert plans.apply(plan(2)) is PlanChange.STARTED
    assert [p.plan_id for p in plans.of_seller("s1")] == ["plan-1"]
    assert plans.apply(plan(3, "cancelled", reason="seller_cancelled")) is PlanChange.STOPPED
    assert plans.of_seller("s1") == []
    assert plans.get("plan-1") is None


def test_an_ended_plan_stops() -> None:
    plans = LivePlans()
    plans.apply(plan(2))
    assert plans.apply(plan(3, "ended")) is PlanChange.STOPPED
    assert len(plans) == 0


def test_an_older_or_repeated_version_changes_nothing() -> None:
    plans = LivePlans()
    plans.apply(plan(2))
    plans.apply(plan(3, "cancelled"))
    assert plans.apply(plan(2)) is None  # read again after the cancel
    assert plans.get("plan-1") is None


def test_a_new_version_with_the_same_trigger_and_window_needs_no_scan() -> None:
    plans = LivePlans()
    plans.apply(plan(2))
    assert plans.apply(plan(3, name="Renamed")) is None
    assert plans.apply(plan(4, ends_at=T + 9 * DAY)) is PlanChange.STARTED


def test_only_automated_plans_are_live() -> None:
    one_time = plan(
        2, "scheduled", type="one_time", trigger=None, starts_at=None, ends_at=None, send_at=T
    )
    assert live_plan(one_time) is None


def test_a_backdated_plan_is_live_from_its_start() -> None:
    backdated = live_plan(plan(2, starts_at=T - 5 * DAY, submitted_at=T))
    assert backdated is not None
    assert backdated.window == (T, T + 7 * DAY)


def test_a_firing_names_its_pair_with_one_id() -> None:
    live = live_plan(plan(2))
    assert live is not None
    firing = plan_fired(live, "c1", T + DAY, T + DAY)
    again = plan_fired(live, "c1", T + DAY, T + 2 * DAY)
    assert firing.event_id == again.event_id == firing_id("plan-1", "c1")
    assert firing_id("plan-1", "c2") != firing.event_id
    assert (firing.plan_version, firing.seller_id, firing.due_at) == (2, "s1", T + DAY)
