"""The rules every implementation of the quota port follows, as scenarios run against
the in-memory fake (tests/unit/quota) and the Redis adapter (tests/integration)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from demo.sample_status import sample_status
from schemas.seller import SellerStatusChanged
from services.policy import load_policy
from services.quota.domain.counters import CampaignLimit
from services.quota.domain.frequency_cap import CapDecision
from services.quota.port import QuotaPort

SetStatus = Callable[[SellerStatusChanged], Awaitable[None]]

BANGKOK = ZoneInfo("Asia/Bangkok")
# A Wednesday noon in Bangkok: the week 2024-W27 runs Mon 1 July to Mon 8 July.
MID_WEEK = datetime(2024, 7, 3, 12, 0, tzinfo=BANGKOK)
NEXT_WEEK = MID_WEEK + timedelta(days=7)


async def reserves_until_the_limit_then_refuses(
    quota: QuotaPort, set_status: SetStatus, seller: str
) -> None:
    await set_status(sample_status(seller, weekly_quota=2))
    first = await quota.reserve(seller, f"{seller}-p1", "one_time", MID_WEEK)
    second = await quota.reserve(seller, f"{seller}-p2", "one_time", MID_WEEK)
    third = await quota.reserve(seller, f"{seller}-p3", "one_time", MID_WEEK)
    other_week = await quota.reserve(seller, f"{seller}-p4", "one_time", NEXT_WEEK)

    assert (first.outcome, first.week, first.used, first.left) == ("reserved", "2024-W27", 1, 1)
    assert (second.outcome, second.used, second.left) == ("reserved", 2, 0)
    assert (third.outcome, third.limit, third.used, third.left) == ("quota_exhausted", 2, 2, 0)
    assert (other_week.outcome, other_week.week) == ("reserved", "2024-W28")


async def a_retried_reserve_takes_one_unit(
    quota: QuotaPort, set_status: SetStatus, seller: str
) -> None:
    await set_status(sample_status(seller, weekly_quota=3))
    first = await quota.reserve(seller, "plan-a", "one_time", MID_WEEK)
    retry = await quota.reserve(seller, "plan-a", "one_time", MID_WEEK)

    assert (first.outcome, retry.outcome) == ("reserved", "already_reserved")
    assert (await quota.usage(seller, MID_WEEK)).used == 1


async def releasing_twice_gives_one_unit_back(
    quota: QuotaPort, set_status: SetStatus, seller: str
) -> None:
    await set_status(sample_status(seller, weekly_quota=3))
    await quota.reserve(seller, "plan-a", "one_time", MID_WEEK)
    await quota.reserve(seller, "plan-b", "one_time", MID_WEEK)
    first = await quota.release(seller, "plan-a", "one_time", MID_WEEK)
    second = await quota.release(seller, "plan-a", "one_time", MID_WEEK)
    reserve_again = await quota.reserve(seller, "plan-a", "one_time", MID_WEEK)
    never_reserved = await quota.release(seller, "plan-z", "one_time", MID_WEEK)

    assert (first.outcome, first.used) == ("released", 1)
    assert (second.outcome, second.used) == ("already_released", 1)
    assert reserve_again.outcome == "already_released"
    assert never_reserved.outcome == "not_reserved"
    assert (await quota.usage(seller, MID_WEEK)).used == 1


async def release_after_dispatch_is_refused(
    quota: QuotaPort, set_status: SetStatus, seller: str
) -> None:
    await set_status(sample_status(seller, weekly_quota=3))
    await quota.reserve(seller, "plan-a", "one_time", MID_WEEK)
    dispatched = await quota.mark_dispatched(seller, "plan-a", "one_time", MID_WEEK)
    again = await quota.mark_dispatched(seller, "plan-a", "one_time", MID_WEEK)
    release = await quota.release(seller, "plan-a", "one_time", MID_WEEK)
    unknown = await quota.mark_dispatched(seller, "plan-z", "one_time", MID_WEEK)

    assert (dispatched.outcome, again.outcome) == ("dispatched", "already_dispatched")
    assert (release.outcome, release.used) == ("already_dispatched", 1)
    assert unknown.outcome == "not_reserved"


async def automated_and_campaign_plans_never_touch_the_counter(
    quota: QuotaPort, set_status: SetStatus, seller: str
) -> None:
    await set_status(sample_status(seller, weekly_quota=1))
    await quota.reserve(seller, "plan-one", "one_time", MID_WEEK)
    answers = [
        await quota.reserve(seller, "plan-auto", "automated", MID_WEEK),
        await quota.reserve(seller, "plan-camp", "campaign", MID_WEEK),
        await quota.release(seller, "plan-auto", "automated", MID_WEEK),
        await quota.mark_dispatched(seller, "plan-camp", "campaign", MID_WEEK),
    ]

    assert [a.outcome for a in answers] == ["not_counted"] * 4
    assert (await quota.usage(seller, MID_WEEK)).used == 1


async def a_campaign_plan_counts_against_its_campaign_not_the_week(
    quota: QuotaPort, set_status: SetStatus, seller: str
) -> None:
    await set_status(sample_status(seller, weekly_quota=1))
    sale = CampaignLimit("sale-7-7", plans_per_seller=2, ends_at=MID_WEEK + timedelta(days=40))
    other = CampaignLimit("sale-8-8", plans_per_seller=1, ends_at=MID_WEEK + timedelta(days=40))
    first = await quota.reserve(seller, "camp-1", "campaign", MID_WEEK, sale)
    retry = await quota.reserve(seller, "camp-1", "campaign", MID_WEEK, sale)
    second = await quota.reserve(seller, "camp-2", "campaign", NEXT_WEEK, sale)
    third = await quota.reserve(seller, "camp-3", "campaign", MID_WEEK, sale)
    elsewhere = await quota.reserve(seller, "camp-4", "campaign", MID_WEEK, other)
    one_time = await quota.reserve(seller, "plan-one", "one_time", MID_WEEK)

    assert (first.outcome, first.week, first.limit, first.used) == (
        "reserved",
        "campaign:sale-7-7",
        2,
        1,
    )
    assert (retry.outcome, second.outcome) == ("already_reserved", "reserved")
    assert (third.outcome, third.used, third.left) == ("quota_exhausted", 2, 0)
    assert (elsewhere.outcome, one_time.outcome) == ("reserved", "reserved")
    assert (await quota.usage(seller, MID_WEEK)).used == 1
    assert (await quota.usage(seller, MID_WEEK, sale)).used == 2

    released = await quota.release(seller, "camp-2", "campaign", NEXT_WEEK, sale)
    dispatched = await quota.mark_dispatched(seller, "camp-1", "campaign", MID_WEEK, sale)
    too_late = await quota.release(seller, "camp-1", "campaign", MID_WEEK, sale)
    assert (released.outcome, released.used) == ("released", 1)
    assert (dispatched.outcome, too_late.outcome) == ("dispatched", "already_dispatched")
    assert (await quota.reserve(seller, "camp-3", "campaign", MID_WEEK, sale)).outcome == (
        "reserved"
    )
    assert (await quota.usage(seller, MID_WEEK)).used == 1


async def a_seller_without_status_has_quota_zero(quota: QuotaPort, seller: str) -> None:
    answer = await quota.reserve(seller, "plan-a", "one_time", MID_WEEK)
    usage = await quota.usage(seller, MID_WEEK)

    assert (answer.outcome, answer.limit, answer.left) == ("quota_exhausted", 0, 0)
    assert (usage.limit, usage.used, usage.left) == (0, 0, 0)
    assert await quota.seller_status(seller) is None


async def a_level_change_mid_week_applies_at_once(
    quota: QuotaPort, set_status: SetStatus, seller: str
) -> None:
    await set_status(sample_status(seller, level=2, weekly_quota=3))
    for n in range(3):
        await quota.reserve(seller, f"plan-{n}", "one_time", MID_WEEK)
    assert (await quota.usage(seller, MID_WEEK)).left == 0

    await set_status(sample_status(seller, level=4, weekly_quota=7))
    assert (await quota.usage(seller, MID_WEEK)).left == 4
    assert (await quota.reserve(seller, "plan-3", "one_time", MID_WEEK)).outcome == "reserved"

    await set_status(sample_status(seller, access="suspended", level=4, weekly_quota=0))
    lowered = await quota.usage(seller, MID_WEEK)
    assert (lowered.limit, lowered.used, lowered.left) == (0, 4, 0)
    refused = await quota.reserve(seller, "plan-4", "one_time", MID_WEEK)
    assert refused.outcome == "quota_exhausted"


async def the_frequency_cap_allows_two_messages_in_seven_days(
    quota: QuotaPort, set_status: SetStatus, seller: str
) -> None:
    await set_status(sample_status(seller))
    day1, day2, day3 = MID_WEEK, MID_WEEK + timedelta(days=1), MID_WEEK + timedelta(days=2)
    day8 = day1 + timedelta(days=7)

    first = await quota.may_send(seller, "cust-1", "m1", day1)
    second = await quota.may_send(seller, "cust-1", "m2", day2)
    third = await quota.may_send(seller, "cust-1", "m3", day3)
    other_customer = await quota.may_send(seller, "cust-2", "m4", day3)
    third_again = await quota.may_send(seller, "cust-1", "m3", day3)
    first_again = await quota.may_send(seller, "cust-1", "m1", day8)
    on_day8 = await quota.may_send(seller, "cust-1", "m5", day8)
    another_on_day8 = await quota.may_send(seller, "cust-1", "m6", day8)

    assert [first.outcome, second.outcome] == ["allowed", "allowed"]
    assert (third.outcome, third.repeated) == ("frequency_capped", False)
    assert other_customer.allowed
    assert (third_again.outcome, third_again.repeated) == ("frequency_capped", True)
    assert (first_again.outcome, first_again.repeated) == ("allowed", True)
    assert (on_day8.outcome, on_day8.repeated) == ("allowed", False)
    assert another_on_day8.outcome == "frequency_capped"


async def an_invalid_id_is_refused_before_anything_is_taken(
    quota: QuotaPort, set_status: SetStatus, seller: str
) -> None:
    await set_status(sample_status(seller, weekly_quota=3))
    for plan_id in (" padded", "", "x" * 129):
        with pytest.raises(ValueError, match="plan_id"):
            await quota.reserve(seller, plan_id, "one_time", MID_WEEK)
    with pytest.raises(ValueError, match="customer_id"):
        await quota.may_send(seller, "cust-1 ", "m1", MID_WEEK)
    assert (await quota.usage(seller, MID_WEEK)).used == 0


async def a_page_of_cap_decisions_equals_asking_one_at_a_time(
    quota: QuotaPort, set_status: SetStatus, seller: str
) -> None:
    await set_status(sample_status(seller))
    day1, day2 = MID_WEEK, MID_WEEK + timedelta(days=1)
    await quota.may_send(seller, "cust-old", "m0", day1)

    first_plan = await quota.may_send_many(
        seller, [("cust-old", "p1"), ("cust-new", "p1"), ("cust-new", "p1")], day2
    )
    second_plan = await quota.may_send_many(
        seller, [("cust-old", "p2"), ("cust-new", "p2"), ("cust-old", "p1")], day2
    )
    third_plan = await quota.may_send_many(seller, [("cust-new", "p3")], day2)

    def summary(decisions: list[CapDecision]) -> list[tuple[str, bool]]:
        return [(d.outcome, d.repeated) for d in decisions]

    assert summary(first_plan) == [("allowed", False), ("allowed", False), ("allowed", True)]
    assert summary(second_plan) == [
        ("frequency_capped", False),
        ("allowed", False),
        ("allowed", True),
    ]
    assert summary(third_plan) == [("frequency_capped", False)]
    # Every decision names the policy book it was made under (no market override here).
    assert {d.policy_version for d in first_plan + second_plan + third_plan} == {
        load_policy().version
    }
    assert await quota.may_send_many(seller, [], day2) == []


async def a_page_with_an_invalid_id_decides_nothing(
    quota: QuotaPort, set_status: SetStatus, seller: str
) -> None:
    await set_status(sample_status(seller))
    page = [("cust-1", "m1"), ("cust-2", "m1"), ("cust-3 ", "m1")]
    with pytest.raises(ValueError, match="customer_id"):
        await quota.may_send_many(seller, page, MID_WEEK)
    with pytest.raises(ValueError, match="message_id"):
        await quota.may_send_many(seller, [("cust-1", "m2"), ("cust-2", "")], MID_WEEK)
    # Had the first pages been decided up to the bad id, these would be repeats.
    again = await quota.may_send_many(seller, [("cust-1", "m1"), ("cust-1", "m2")], MID_WEEK)
    assert [(d.outcome, d.repeated) for d in again] == [("allowed", False), ("allowed", False)]


async def the_cap_counts_across_weeks_and_takes_any_message_id(
    quota: QuotaPort, set_status: SetStatus, seller: str
) -> None:
    """A window spanning the Thursday (UTC) where one period of kept decisions ends and
    the next begins; ids holding the characters a stored decision is written with."""
    await set_status(sample_status(seller))
    customer = "cust:1:s"
    day = timedelta(days=1)
    first = await quota.may_send(seller, customer, "m:1:x", MID_WEEK)
    second = await quota.may_send(seller, customer, "s5:2:ab", MID_WEEK + day)
    third = await quota.may_send(seller, customer, "m 2", MID_WEEK + 2 * day)
    week_later = await quota.may_send_many(
        seller,
        [
            (customer, "m:1:x"),
            (customer, "m 2"),
            (customer, "ünï"),
            (customer, "m3"),
            (customer, "m4"),
        ],
        MID_WEEK + 8.5 * day,
    )

    assert [first.outcome, second.outcome] == ["allowed", "allowed"]
    assert (third.outcome, third.repeated) == ("frequency_capped", False)
    assert [(d.outcome, d.repeated) for d in week_later] == [
        ("allowed", True),
        ("frequency_capped", True),
        ("allowed", False),
        ("allowed", False),
        ("frequency_capped", False),
    ]


SCENARIOS = [
    an_invalid_id_is_refused_before_anything_is_taken,
    reserves_until_the_limit_then_refuses,
    a_retried_reserve_takes_one_unit,
    releasing_twice_gives_one_unit_back,
    release_after_dispatch_is_refused,
    automated_and_campaign_plans_never_touch_the_counter,
    a_campaign_plan_counts_against_its_campaign_not_the_week,
    a_level_change_mid_week_applies_at_once,
    the_frequency_cap_allows_two_messages_in_seven_days,
    a_page_of_cap_decisions_equals_asking_one_at_a_time,
    a_page_with_an_invalid_id_decides_nothing,
    the_cap_counts_across_weeks_and_takes_any_message_id,
]
