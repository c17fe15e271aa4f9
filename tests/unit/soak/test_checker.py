"""The soak's invariants on small hand-made records: each must find what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from soak.checker import (
    ApiCall,
    Change,
    LedgerEntry,
    Message,
    Observed,
    PlanFinal,
    api_answered,
    check_all,
    counters_match_ledger,
    no_message_from_inactive,
    no_message_to_blocker,
    nothing_dead_lettered,
    one_message_per_pair,
    one_time_within_quota,
    plans_settled,
    within_cap,
)

T0 = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
BOUND = timedelta(seconds=30)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def msg(
    plan: str = "p1", customer: str = "c1", seconds: float = 100, seller: str = "s1"
) -> Message:
    return Message(plan, "one_time", seller, customer, at(seconds))


def test_a_pair_sent_twice_is_one_violation() -> None:
    found = one_message_per_pair([msg(), msg(), msg(customer="c2"), msg(plan="p2")])
    assert (found.violations, found.checked) == (1, 3)


def test_a_message_long_after_a_standing_block_is_a_violation_and_measured() -> None:
    blocks = [Change(("s1", "c1"), True, at(10))]
    found = no_message_to_blocker([msg(seconds=100)], blocks, BOUND)
    assert found.violations == 1
    assert found.measured["freshness_seconds"] == 90


def test_a_message_within_the_bound_or_after_an_unblock_is_fine() -> None:
    blocks = [
        Change(("s1", "c1"), True, at(80)),
        Change(("s1", "c2"), True, at(10)),
        Change(("s1", "c2"), False, at(50)),
        Change(("s1", "c3"), True, at(10)),
        Change(("s1", "c3"), False, at(85)),
    ]
    messages = [msg(seconds=100), msg(customer="c2"), msg(customer="c3")]
    found = no_message_to_blocker(messages, blocks, BOUND)
    assert found.violations == 0
    assert found.measured["freshness_seconds"] == 20
    # A block after the message does not count against it.
    late = no_message_to_blocker([msg(seconds=100)], [Change(("s1", "c1"), True, at(200))], BOUND)
    assert (late.violations, late.measured["freshness_seconds"]) == (0, 0)


def test_messages_from_a_seller_never_active_or_suspended_long_ago_are_violations() -> None:
    access = [
        Change(("s2",), True, at(0)),
        Change(("s2",), False, at(20)),
        Change(("s3",), True, at(0)),
        Change(("s4",), True, at(0)),
        Change(("s4",), False, at(90)),
    ]
    messages = [msg(seller="s1"), msg(seller="s2"), msg(seller="s3"), msg(seller="s4")]
    found = no_message_from_inactive(messages, access, BOUND)
    assert found.violations == 2  # s1 never active, s2 suspended 80 s before
    assert "from s1" in found.examples[0]
    assert "from s2" in found.examples[1]


def test_a_third_message_in_seven_days_breaks_the_cap_an_eighth_day_does_not() -> None:
    week = 7 * 86_400
    crowded = [msg("p1", seconds=0), msg("p2", seconds=week / 2), msg("p3", seconds=week - 1)]
    assert within_cap(crowded).violations == 1
    spread = [msg("p1", seconds=0), msg("p2", seconds=week - 1), msg("p3", seconds=week + 1)]
    assert within_cap(spread).violations == 0
    fine = [msg("p1", seconds=0), msg("p2", seconds=week), msg("p3", seconds=2 * week)]
    assert within_cap(fine).violations == 0
    other_customer = [msg("p1"), msg("p2"), msg("p3", customer="c2")]
    assert within_cap(other_customer).violations == 0


def _ledger(
    plan: str, week: str = "2026-W49", limit: int = 2, reserved: bool = True
) -> LedgerEntry:
    return LedgerEntry("s1", plan, week, reserved, limit)


def test_one_time_plans_over_the_weeks_limit_or_without_a_unit_are_violations() -> None:
    plans = [PlanFinal(f"p{n}", "s1", "one_time", "completed", True) for n in range(3)]
    ledger = [_ledger("p0"), _ledger("p1"), _ledger("p2")]
    assert one_time_within_quota(plans, ledger).violations == 1
    # A released unit's plan is cancelled: it does not count.
    plans[2] = PlanFinal("p2", "s1", "one_time", "cancelled", True)
    assert one_time_within_quota(plans, ledger).violations == 0
    # A level change raised the week's limit to 3.
    raised = [*ledger, _ledger("p9", limit=3)]
    plans[2] = PlanFinal("p2", "s1", "one_time", "scheduled", True)
    assert one_time_within_quota(plans, raised).violations == 0
    unledgered = [PlanFinal("px", "s1", "one_time", "sending", True)]
    assert one_time_within_quota(unledgered, ledger).violations == 1


def test_plans_left_sending_or_with_counts_that_disagree_are_violations() -> None:
    plans = [
        PlanFinal("ok", "s1", "one_time", "completed", True, 3, 2, {"blocked": 1}),
        PlanFinal("stuck", "s1", "one_time", "sending", True),
        PlanFinal("sums", "s1", "one_time", "completed", True, 5, 2, {"blocked": 1}),
        PlanFinal("drift", "s1", "campaign", "completed", True, 1, 1, {}),
        PlanFinal("draft", "s1", "one_time", "draft", False),
        PlanFinal("auto", "s1", "automated", "ongoing", True),
    ]
    messages = [msg("ok", "c1"), msg("ok", "c2")]
    found = plans_settled(plans, messages)
    assert (found.violations, found.checked) == (3, 5)


def test_any_dead_letter_is_a_violation() -> None:
    assert nothing_dead_lettered([]).violations == 0
    assert nothing_dead_lettered(["crm.shop-blocks: invalid"]).violations == 1


def test_counters_must_equal_the_ledgers_last_fact_per_plan() -> None:
    ledger = [_ledger("p1"), _ledger("p2"), _ledger("p2", reserved=False), _ledger("p3")]
    assert counters_match_ledger(ledger, {("s1", "2026-W49"): 2}).violations == 0
    assert counters_match_ledger(ledger, {("s1", "2026-W49"): 3}).violations == 1
    assert counters_match_ledger(ledger, {}).violations == 1
    assert counters_match_ledger([], {("s1", "2026-W50"): 1}).violations == 1


def test_unanswered_calls_and_5xx_but_503_with_retry_after_are_violations() -> None:
    calls = [
        ApiCall("POST", "/v1/plans", 201),
        ApiCall("POST", "/v1/plans", 503, "2"),
        ApiCall("POST", "/v1/plans", 403),
        ApiCall("POST", "/v1/plans", 503),
        ApiCall("GET", "/v1/plans", 500),
        ApiCall("GET", "/v1/plans", None),
    ]
    assert api_answered(calls).violations == 3


def test_a_clean_run_has_no_violations_anywhere() -> None:
    observed = Observed(
        messages=[msg("p1", "c1", 100), msg("p1", "c2", 100)],
        blocks=[Change(("s1", "c3"), True, at(10))],
        access=[Change(("s1",), True, at(0))],
        plans=[PlanFinal("p1", "s1", "one_time", "completed", True, 3, 2, {"blocked": 1})],
        ledger=[_ledger("p1")],
        counters={("s1", "2026-W49"): 1},
        dead_letters=[],
        api_calls=[ApiCall("POST", "/v1/plans", 201)],
    )
    findings = check_all(observed, BOUND)
    assert len(findings) == 9
    assert {f.invariant: f.violations for f in findings if f.violations} == {}
