"""The figures as pure rules: what each event adds, that a mark counts once in any order,
which progress record wins, and the sums readers show."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.delivery import SUPPRESSION_REASONS
from services.delivery.domain.performance import (
    MessageMark,
    OnceMark,
    PlanFigures,
    ProgressMark,
    Tally,
    claim_tally,
    engagement_tally,
    figures_from_stored,
    fold,
    order_tally,
    overview_of,
    progress_day_fields,
    progress_fields,
    snapshot_of,
    supersedes,
    total,
)
from tests.unit.customers.builders import utc
from tests.unit.delivery import builders as b

pytestmark = pytest.mark.unit

# 23:30 UTC on 3 July is already 4 July in Bangkok, still 3 July in Los Angeles.
LATE = utc("2024-07-03T23:30:00")


@pytest.mark.parametrize(
    ("event", "figure", "bit", "day"),
    [
        (b.delivered(LATE, "p1", "c1"), "delivered", 1, date(2024, 7, 4)),
        (b.read(LATE, "p1", "c1"), "read", 2, date(2024, 7, 4)),
        (b.clicked(LATE, "p1", "c1"), "clicked", 4, date(2024, 7, 4)),
        (b.failed(LATE, "p1", "c1"), "failed", 8, date(2024, 7, 4)),
    ],
)
def test_an_engagement_event_counts_one_message_on_its_local_day(
    event: b.MessageDelivered, figure: str, bit: int, day: date | None
) -> None:
    tally = engagement_tally(event, "TH")
    assert tally == Tally("s1", "p1", MessageMark("c1", bit), ((figure, 1),), day)  # type: ignore[arg-type]


def test_the_day_follows_the_market_and_is_utc_while_it_is_unknown() -> None:
    assert engagement_tally(b.read(LATE, "p1", "c1"), "US").day == date(2024, 7, 3)
    assert engagement_tally(b.read(LATE, "p1", "c1"), None).day == date(2024, 7, 3)


def test_an_order_adds_one_order_and_its_gmv_a_claim_one_claim() -> None:
    order = b.order(LATE, "c1", "o-9", 120.5)
    assert order_tally(order, "p1", "TH") == Tally(
        "s1", "p1", OnceMark("order:o-9"), (("orders", 1), ("gmv", 120.5)), date(2024, 7, 4)
    )
    claim = b.claim(LATE, "c1")
    assert claim_tally(claim, "p1", "TH") == Tally(
        "s1",
        "p1",
        OnceMark(f"claim:{claim.event_id}"),
        (("coupons_claimed", 1),),
        date(2024, 7, 4),
    )


def test_a_message_read_twice_counts_once_and_so_does_a_repeated_order() -> None:
    read_once = engagement_tally(b.read(LATE, "p1", "c1"), "TH")
    read_again = engagement_tally(b.read(LATE + timedelta(hours=30), "p1", "c1"), "TH")
    order = order_tally(b.order(LATE, "c1", "o-1", 10.0), "p1", "TH")
    folded = fold([read_once, read_again, order, order])
    assert folded.plans[("s1", "p1")] == {"read": 1, "orders": 1, "gmv": 10.0}
    # The read counts on the day of the read that was counted first.
    assert folded.days[("s1", date(2024, 7, 4))] == {"p1|read": 1, "p1|orders": 1, "p1|gmv": 10.0}
    assert ("s1", date(2024, 7, 5)) not in folded.days


tallies = st.builds(
    lambda kind, plan, customer, hours: engagement_tally(
        kind(LATE + timedelta(hours=hours), plan, customer), "ID"
    ),
    st.sampled_from([b.delivered, b.read, b.clicked, b.failed]),
    st.sampled_from(["p1", "p2"]),
    st.sampled_from(["c1", "c2", "c3"]),
    st.just(0),
) | st.builds(
    # An order id is one order: the same gmv whenever it is published.
    lambda plan, order_id: order_tally(
        b.order(LATE, "c1", order_id, {"o1": 1.5, "o2": 20.0}[order_id]), plan, "ID"
    ),
    st.sampled_from(["p1", "p2"]),
    st.sampled_from(["o1", "o2"]),
)


@given(st.lists(tallies, max_size=12), st.randoms(), st.data())
def test_the_fold_is_the_same_after_redelivery_and_in_any_order(
    given_tallies: list[Tally], random: object, data: st.DataObject
) -> None:
    redelivered = data.draw(st.lists(st.sampled_from(given_tallies))) if given_tallies else []
    shuffled = [*given_tallies, *redelivered]
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert fold(shuffled) == fold(given_tallies)


@pytest.mark.parametrize(
    ("incoming", "stored", "expected"),
    [
        (ProgressMark(10, 5), None, True),
        (ProgressMark(20, 3), ProgressMark(10, 5), True),  # more recipients: later state
        (ProgressMark(10, 3), ProgressMark(20, 5), False),  # an older record re-read
        (ProgressMark(10, 7), ProgressMark(10, 5), True),  # a tie: the later record
        (ProgressMark(10, 5), ProgressMark(10, 5), True),  # the same record again
        (ProgressMark(10, 4), ProgressMark(10, 5), False),
    ],
)
def test_the_progress_with_more_recipients_wins_and_a_tie_goes_to_the_later_record(
    incoming: ProgressMark, stored: ProgressMark | None, expected: bool
) -> None:
    assert supersedes(incoming, stored) is expected


def test_a_progress_record_sets_every_reason_so_a_replacement_is_whole() -> None:
    event = b.progressed(LATE, "p1", recipients=100, sent=90, suppressed={"blocked": 10})
    fields = progress_fields(event, 42)
    assert {f for f in fields if f.startswith("suppressed:")} == {
        f"suppressed:{r}" for r in SUPPRESSION_REASONS
    }
    assert (fields["suppressed:blocked"], fields["suppressed:frequency_capped"]) == ("10", "0")
    assert (fields["recipients"], fields["sent"], fields["progress_offset"]) == ("100", "90", "42")


def test_stored_figures_read_back_with_only_the_reasons_that_happened() -> None:
    stored = {
        "recipients": "100",
        "sent": "90",
        "suppressed:blocked": "10",
        "suppressed:seller_inactive": "0",
        "delivered": "88",
        "read": "40",
        "gmv": "1048.0000000001",
        "segment_id": "repeat_customers",
    }
    assert figures_from_stored(stored) == PlanFigures(
        recipients=100, sent=90, suppressed={"blocked": 10}, delivered=88, read=40, gmv=1048.0
    )


def test_a_segment_sums_its_plans() -> None:
    one = PlanFigures(recipients=10, sent=8, suppressed={"blocked": 2}, orders=1, gmv=5.25)
    two = PlanFigures(recipients=5, sent=4, suppressed={"blocked": 1, "frequency_capped": 0})
    assert total([one, two]) == PlanFigures(
        recipients=15, sent=12, suppressed={"blocked": 3, "frequency_capped": 0}, orders=1, gmv=5.25
    )
    assert total([]) == PlanFigures()


def test_the_overview_sums_days_into_the_funnel_and_per_segment() -> None:
    days = [
        {"p1|delivered": "3", "p1|read": "2", "p2|delivered": "1", "p-x|delivered": "4"},
        {"p1|clicked": "1", "p1|orders": "1", "p1|gmv": "99.5", "p2|read": "1"},
    ]
    overview = overview_of(days, {"p1": "repeat_customers", "p2": "new_customers"})
    assert overview.funnel.model_dump() == {"delivered": 8, "read": 3, "clicked": 1, "ordered": 1}
    assert [s.model_dump() for s in overview.segments] == [
        {
            "segment_id": "new_customers",
            "delivered": 1,
            "read": 1,
            "clicked": 0,
            "orders": 0,
            "gmv": 0.0,
        },
        {
            "segment_id": "repeat_customers",
            "delivered": 3,
            "read": 2,
            "clicked": 1,
            "orders": 1,
            "gmv": 99.5,
        },
    ]


def test_the_overview_leaves_out_the_figures_it_does_not_show() -> None:
    days = [{"p1|delivered": "2", "p1|failed": "1", "p1|recipients": "9", "p1|sent": "8"}]
    overview = overview_of(days, {"p1": "repeat_customers"})
    assert overview.funnel.model_dump() == {"delivered": 2, "read": 0, "clicked": 0, "ordered": 0}
    assert [(s.segment_id, s.delivered) for s in overview.segments] == [("repeat_customers", 2)]


def test_a_segment_snapshot_adds_up_the_days_and_takes_the_latest_fan_out_counts() -> None:
    first = b.progressed(LATE, "p1", recipients=4, sent=3, suppressed={"blocked": 1})
    later = b.progressed(
        LATE + timedelta(days=1), "p1", recipients=6, sent=5, suppressed={"blocked": 1}, done=True
    )
    days = [
        # Read newest first: the order of the days does not matter.
        {**progress_day_fields(later), "p1|read": "1", "p1|orders": "1", "p1|gmv": "10.5"},
        {
            **progress_day_fields(first),
            "p1|delivered": "3",
            "p1|read": "2",
            "p1|failed": "1",
            "p1|coupons_claimed": "1",
            "p2|delivered": "7",
            "p-unknown|delivered": "5",
        },
    ]
    segment_of = {"p1": "repeat_customers", "p2": "repeat_customers", "p3": "new_customers"}
    snapshots = snapshot_of(days, segment_of)
    assert set(snapshots) == {"repeat_customers"}
    repeat = snapshots["repeat_customers"]
    assert repeat.plans == 2
    assert repeat.figures == PlanFigures(
        recipients=6,
        sent=5,
        suppressed={"blocked": 1},
        delivered=10,
        read=3,
        failed=1,
        orders=1,
        gmv=10.5,
        coupons_claimed=1,
    )
    assert snapshot_of([], segment_of) == {}


def test_money_sums_stay_finite_so_a_figure_never_becomes_null() -> None:
    import json
    import sys

    huge = PlanFigures(orders=1, gmv=1.7e308)
    summed = total([huge, huge])
    assert summed.gmv == sys.float_info.max
    assert json.loads(summed.model_dump_json())["gmv"] is not None
    days = [{"p1|gmv": "1.7e308"}, {"p1|gmv": "1.7e308"}]
    [segment] = overview_of(days, {"p1": "s"}).segments
    assert segment.gmv == sys.float_info.max
    assert figures_from_stored({"gmv": "inf"}).gmv == sys.float_info.max


def test_an_order_above_the_money_maximum_is_refused_by_its_schema() -> None:
    from pydantic import ValidationError

    assert b.order(utc("2024-06-01T00:00"), "c1", "o1", gmv=1e12).gmv == 1e12
    with pytest.raises(ValidationError, match="less than or equal to 1000000000000"):
        b.order(utc("2024-06-01T00:00"), "c1", "o1", gmv=1.7e308)
