"""Rebuilding a week from the ledger: duplicates count once, order does not matter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.quota import (
    CampaignQuotaReleased,
    CampaignQuotaReserved,
    QuotaReleased,
    QuotaReserved,
)
from services.quota.domain.counters import CampaignLimit
from services.quota.domain.ledger_facts import (
    LedgerEvent,
    LedgerFact,
    LedgerFold,
    campaign_of,
    counter_of,
    ledger_event,
    ledger_event_id,
    with_fact,
)

pytestmark = pytest.mark.unit

AT = datetime(2024, 7, 1, 9, tzinfo=UTC)


def _fact(fact: LedgerFact, plan: str, seller: str = "s1", week: str = "2024-W27") -> LedgerEvent:
    return ledger_event(
        fact, seller_id=seller, plan_id=plan, week=week, limit=3, used_after=1, occurred_at=AT
    )


def test_event_ids_are_derived_from_seller_plan_and_fact() -> None:
    assert _fact("reserved", "p1").event_id == _fact("reserved", "p1").event_id
    assert _fact("reserved", "p1").event_id == ledger_event_id("s1", "p1", "reserved")
    facts: tuple[LedgerFact, ...] = ("reserved", "released")
    ids = {
        ledger_event_id(seller, plan, fact) for seller in "ab" for plan in "xy" for fact in facts
    }
    assert len(ids) == 8
    assert isinstance(_fact("reserved", "p1"), QuotaReserved)
    assert isinstance(_fact("released", "p1"), QuotaReleased)


@pytest.mark.parametrize(
    ("state", "fact", "after"),
    [
        (None, "reserved", "reserved"),
        ("reserved", "reserved", "reserved"),
        ("released", "reserved", "released"),
        (None, "released", "released"),
        ("reserved", "released", "released"),
        ("released", "released", "released"),
        ("dispatched", "reserved", "dispatched"),
        ("dispatched", "released", "dispatched"),
    ],
)
def test_a_fact_applied_in_any_state(state: str | None, fact: LedgerFact, after: str) -> None:
    assert with_fact(state, fact) == after  # type: ignore[arg-type]


def test_the_fold_groups_by_seller_and_week_and_drops_duplicates() -> None:
    fold = LedgerFold()
    for event in [
        _fact("reserved", "p1"),
        _fact("reserved", "p2"),
        _fact("reserved", "p1"),  # re-published after a crash
        _fact("released", "p2"),
        _fact("reserved", "p3", week="2024-W28"),
        _fact("reserved", "q1", seller="s2"),
    ]:
        fold.apply(event)

    assert (fold.facts, fold.duplicates) == (5, 1)
    assert fold.sellers == {"s1", "s2"}
    weeks = {week.label: week.usage for week in fold.weeks_of("s1")}
    assert weeks["2024-W27"].plans == {"p1": "reserved", "p2": "released"}
    assert (weeks["2024-W27"].used, weeks["2024-W28"].used) == (1, 1)
    assert fold.weeks_of("nobody") == []


def test_the_fold_knows_when_each_week_was_last_written() -> None:
    fold = LedgerFold()
    later = AT + timedelta(days=40)
    fold.apply(_fact("reserved", "p1"))
    fold.apply(
        ledger_event(
            "released",
            seller_id="s1",
            plan_id="p1",
            week="2024-W27",
            limit=3,
            used_after=0,
            occurred_at=later,
        )
    )
    fold.apply(_fact("reserved", "p2"))
    (week,) = fold.weeks_of("s1")
    assert week.last_fact_at == later


def test_campaign_facts_fold_into_the_campaigns_counter_not_the_week() -> None:
    sale = CampaignLimit("sale-7-7", plans_per_seller=2, ends_at=AT + timedelta(days=60))
    corrected = CampaignLimit("sale-7-7", plans_per_seller=3, ends_at=AT + timedelta(days=90))

    def campaign_fact(fact: LedgerFact, plan: str, campaign: CampaignLimit) -> LedgerEvent:
        return ledger_event(
            fact,
            seller_id="s1",
            plan_id=plan,
            week="2024-W27",
            limit=campaign.plans_per_seller,
            used_after=1,
            occurred_at=AT,
            campaign=campaign,
        )

    reserved = campaign_fact("reserved", "c1", sale)
    assert isinstance(reserved, CampaignQuotaReserved)
    assert (counter_of(reserved), campaign_of(reserved)) == ("campaign:sale-7-7", sale)
    assert isinstance(campaign_fact("released", "c2", sale), CampaignQuotaReleased)
    fold = LedgerFold()
    for event in [
        _fact("reserved", "p1"),
        reserved,
        campaign_fact("reserved", "c2", corrected),
        campaign_fact("released", "c2", corrected),
        campaign_fact("reserved", "c3", corrected),
    ]:
        fold.apply(event)

    counters = {week.label: week for week in fold.weeks_of("s1")}
    assert counters["2024-W27"].usage.plans == {"p1": "reserved"}
    assert counters["2024-W27"].campaign_ends_at is None
    campaign = counters["campaign:sale-7-7"]
    assert campaign.usage.plans == {"c1": "reserved", "c2": "released", "c3": "reserved"}
    # The counter lives until the latest end the ledger gave the campaign.
    assert campaign.campaign_ends_at == corrected.ends_at


facts = st.lists(
    st.tuples(st.sampled_from(["reserved", "released"]), st.sampled_from(["p1", "p2", "p3"])),
    max_size=12,
)


@given(facts, st.randoms(use_true_random=False))
def test_any_order_and_any_repetition_rebuild_the_same_week(
    drawn: list[tuple[LedgerFact, str]], random: object
) -> None:
    events = [_fact(fact, plan) for fact, plan in drawn]
    shuffled = events * 2
    random.shuffle(shuffled)  # type: ignore[attr-defined]

    def folded(sequence: list[LedgerEvent]) -> dict[str, object]:
        fold = LedgerFold()
        for event in sequence:
            fold.apply(event)
        return {week.label: week.usage.plans for week in fold.weeks_of("s1")}

    assert folded(shuffled) == folded(events)
