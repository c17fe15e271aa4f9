"""A sharded plan completes once every shard reported, with their counts summed once,
whatever the order of the reports and however often one is read again."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.plans import CompletePlan, Plan, ShardReport
from services.outreach.domain import lifecycle
from services.outreach.domain.lifecycle import Change, Refusal
from services.outreach.domain.shard_completion import report_of
from tests.unit.outreach.test_lifecycle import NOW, _ids, _plan


def _report(shard: int, count: int, *, recipients: int, blocked: int = 0) -> CompletePlan:
    return CompletePlan(
        **_ids(),
        recipients=recipients,
        sent=recipients - blocked,
        suppressed={"blocked": blocked} if blocked else {},
        shard=shard,
        shard_count=count,
    )


def _fold(plan: Plan, commands: list[CompletePlan]) -> tuple[Plan, list[str]]:
    """The processor's handling of the reports, one after the other: the plan as the log
    keeps it and the events published."""
    events: list[str] = []
    for command in commands:
        decision = lifecycle.complete(plan, command, NOW)
        if isinstance(decision, Change):
            plan = decision.plan
            events.append(decision.event)
    return plan, events


def test_the_plan_completes_with_its_last_shard_and_the_sum_of_all() -> None:
    reports = [
        _report(0, 3, recipients=10, blocked=1),
        _report(1, 3, recipients=20),
        _report(2, 3, recipients=30, blocked=2),
    ]
    plan, events = _fold(_plan("sending"), reports)
    assert events == ["PlanShardCompleted", "PlanShardCompleted", "PlanCompleted"]
    assert (plan.status, plan.recipients, plan.sent, plan.suppressed) == (
        "completed",
        60,
        57,
        {"blocked": 3},
    )
    assert [r.shard for r in plan.shards_reported or []] == [0, 1, 2]


@pytest.mark.parametrize(
    ("status", "shards_reported", "shard", "expected"),
    [
        ("sending", [], 0, "PlanShardCompleted"),
        ("sending", [1], 0, "PlanCompleted"),
        ("sending", [0], 0, "already reported"),
        ("completed", [0, 1], 1, "only a sending plan"),
        ("scheduled", [], 0, "only a sending plan"),
    ],
)
def test_a_shard_report(status: str, shards_reported: list[int], shard: int, expected: str) -> None:
    plan = _plan(status).model_copy(
        update={"shards_reported": [_report_model(s) for s in shards_reported]}
    )
    decision = lifecycle.complete(plan, _report(shard, 2, recipients=5), NOW)
    if isinstance(decision, Change):
        assert decision.event == expected
        assert decision.plan.version == plan.version + 1
    else:
        assert isinstance(decision, Refusal)
        assert expected in decision.detail


def _report_model(shard: int) -> ShardReport:
    return report_of(_report(shard, 2, recipients=5))


def test_an_unsharded_completion_is_as_before() -> None:
    command = CompletePlan(**_ids(), recipients=5, sent=5)
    decision = lifecycle.complete(_plan("sending"), command, NOW)
    assert isinstance(decision, Change)
    assert (decision.event, decision.plan.recipients, decision.plan.shards_reported) == (
        "PlanCompleted",
        5,
        None,
    )


@settings(max_examples=200, deadline=None)
@given(
    counts=st.lists(st.integers(0, 1000), min_size=2, max_size=8),
    data=st.data(),
)
def test_any_order_and_any_repeats_give_the_same_final_counts(
    counts: list[int], data: st.DataObject
) -> None:
    n = len(counts)
    reports = [_report(i, n, recipients=c, blocked=c // 3) for i, c in enumerate(counts)]
    repeated = data.draw(st.lists(st.sampled_from(reports), max_size=2 * n))
    order = data.draw(st.permutations(reports + repeated))
    plan, events = _fold(_plan("sending"), list(order))
    assert events.count("PlanCompleted") == 1
    assert events.count("PlanShardCompleted") == n - 1
    assert plan.status == "completed"
    assert plan.recipients == sum(counts)
    assert plan.sent == sum(c - c // 3 for c in counts)
    assert (plan.suppressed or {}).get("blocked", 0) == sum(c // 3 for c in counts)
