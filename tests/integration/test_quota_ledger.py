"""Redis and crm.quota-ledger cannot stay apart: every fact is ledgered before it is
answered, a crash between the two is repaired by a retry or the reconciler, and
after Redis loses its data the counters come back from the ledger first."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import redis.asyncio as aioredis

from demo.sample_status import sample_status
from schemas.quota import CampaignQuotaReserved, QuotaReleased, QuotaReserved
from services.quota.domain.counters import CampaignLimit
from services.quota.domain.ledger_facts import ledger_event_id
from services.quota.domain.week import week_of
from services.quota.metrics import REBUILDS
from services.quota.port import Reservation
from services.quota.reconciler import republish_pending
from services.quota.redis_store import WeekCall
from services.shared.clock import utc_now
from services.shared.codec import encode
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from tests.integration.quota_support import (
    QUOTA_TOPICS,
    ledger_events,
    projecting,
    redis_quota,
)
from tests.quota_contract import MID_WEEK


async def test_every_reservation_and_release_is_in_the_ledger_before_it_is_answered(
    settings: Settings, topics, redis_url: str, test_id: str, redis_client
) -> None:  # type: ignore[no-untyped-def]
    await topics(*QUOTA_TOPICS)
    seller = f"seller-{test_id}"
    async with redis_quota(settings, redis_url) as quota:
        await projecting(quota)(sample_status(seller, weekly_quota=3))
        await quota.reserve(seller, "plan-a", "one_time", MID_WEEK)
        await quota.reserve(seller, "plan-a", "one_time", MID_WEEK)
        await quota.reserve(seller, "plan-b", "one_time", MID_WEEK)
        await quota.release(seller, "plan-a", "one_time", MID_WEEK)
        await quota.release(seller, "plan-a", "one_time", MID_WEEK)
        await quota.reserve(seller, "plan-c", "automated", MID_WEEK)

    events = await ledger_events(settings, 3)
    assert [(type(e), e.plan_id, e.week, e.limit, e.used_after) for e in events] == [
        (QuotaReserved, "plan-a", "2024-W27", 3, 1),
        (QuotaReserved, "plan-b", "2024-W27", 3, 2),
        (QuotaReleased, "plan-a", "2024-W27", 3, 1),
    ]
    assert events[0].event_id == ledger_event_id(seller, "plan-a", "reserved")
    assert {e.seller_id for e in events} == {seller}


async def test_a_crash_between_redis_and_the_ledger_is_repaired_by_a_retry(
    settings: Settings, topics, redis_url: str, test_id: str, redis_client
) -> None:  # type: ignore[no-untyped-def]
    await topics(*QUOTA_TOPICS)
    seller = f"seller-{test_id}"
    async with redis_quota(settings, redis_url) as quota:
        await projecting(quota)(sample_status(seller, weekly_quota=3))
        await quota.usage(seller, MID_WEEK)  # restores the slot, as any first call does
        # The process "dies" right after the script: Redis took the unit, Kafka has nothing.
        week = week_of(MID_WEEK, "TH")
        taken = await quota.store.run_week_call(
            WeekCall("reserve", seller, "plan-a", week, utc_now())
        )
        assert (taken.outcome, len(taken.pending)) == ("reserved", 1)

        retry = await quota.reserve(seller, "plan-a", "one_time", MID_WEEK)
        assert (retry.outcome, retry.used) == ("already_reserved", 1)
        await quota.close()  # confirmations flushed
        assert await quota.store.pending_of(seller) == []

    (event,) = await ledger_events(settings, 1)
    assert (type(event), event.plan_id, event.used_after) == (QuotaReserved, "plan-a", 1)
    assert event.event_id == ledger_event_id(seller, "plan-a", "reserved")


async def test_a_crash_between_redis_and_the_ledger_is_repaired_by_the_reconciler(
    settings: Settings, topics, redis_url: str, test_id: str, redis_client
) -> None:  # type: ignore[no-untyped-def]
    await topics(*QUOTA_TOPICS)
    seller = f"seller-{test_id}"
    week = week_of(MID_WEEK, "TH")
    async with redis_quota(settings, redis_url) as quota:
        await projecting(quota)(sample_status(seller, weekly_quota=3))
        await quota.usage(seller, MID_WEEK)
        now = utc_now()
        for operation, plan in (
            ("reserve", "plan-a"),
            ("reserve", "plan-b"),
            ("release", "plan-a"),
        ):
            await quota.store.run_week_call(WeekCall(operation, seller, plan, week, now))

        young = await republish_pending(
            quota.store, quota.ledger, now, older_than=timedelta(seconds=30)
        )
        assert young == 0, "facts a live process may still be publishing are left alone"
        assert await republish_pending(quota.store, quota.ledger, now) == 3
        assert await quota.store.pending_of(seller) == []
        assert await republish_pending(quota.store, quota.ledger, now) == 0
        assert (await quota.usage(seller, MID_WEEK)).used == 1

    events = await ledger_events(settings, 3)
    assert Counter((e.event_type, e.plan_id) for e in events) == {
        ("QuotaReserved", "plan-a"): 1,
        ("QuotaReleased", "plan-a"): 1,
        ("QuotaReserved", "plan-b"): 1,
    }
    reserve_a = next(e for e in events if e.plan_id == "plan-a")
    assert isinstance(reserve_a, QuotaReserved), "a plan's reservation is ledgered first"


async def test_after_flushall_the_counters_come_back_from_the_ledger_before_any_reserve(
    settings: Settings, topics, redis_url: str, test_id: str, redis_client: aioredis.Redis
) -> None:  # type: ignore[no-untyped-def]
    await topics(*QUOTA_TOPICS)
    seller, other = f"seller-{test_id}", f"other-{test_id}"
    # The statuses come from crm.seller-status, as the worker would have projected them.
    producer = new_producer(settings)
    await producer.start()
    for status in (sample_status(seller, weekly_quota=3), sample_status(other, weekly_quota=5)):
        await producer.send_and_wait(
            settings.topic("crm.seller-status"), encode(status), key=status.seller_id.encode()
        )
    await producer.stop()

    async with redis_quota(settings, redis_url) as quota:
        await quota.reserve(seller, "plan-1", "one_time", MID_WEEK)
        await quota.reserve(seller, "plan-2", "one_time", MID_WEEK)
        await quota.release(seller, "plan-2", "one_time", MID_WEEK)
        await quota.reserve(seller, "plan-3", "one_time", MID_WEEK)
        await quota.mark_dispatched(seller, "plan-1", "one_time", MID_WEEK)
        await quota.reserve(other, "plan-9", "one_time", MID_WEEK)
        assert (await quota.usage(seller, MID_WEEK)).used == 2
        rebuilds = REBUILDS.labels("data_lost")._value.get()

        await redis_client.flushall()

        # Concurrent callers after the loss: one rebuild, then exactly the unit that is left.
        answers = await asyncio.gather(
            *(quota.reserve(seller, f"plan-new-{n}", "one_time", MID_WEEK) for n in range(10)),
            quota.reserve(seller, "plan-1", "one_time", MID_WEEK),
            quota.reserve(seller, "plan-2", "one_time", MID_WEEK),
        )
        assert REBUILDS.labels("data_lost")._value.get() == rebuilds + 1
        assert Counter(a.outcome for a in answers[:10]) == {"reserved": 1, "quota_exhausted": 9}
        assert [a.outcome for a in answers[10:]] == ["already_reserved", "already_released"]
        usage = await quota.usage(seller, MID_WEEK)
        assert (usage.limit, usage.used, usage.left) == (3, 3, 0)
        assert (await quota.usage(other, MID_WEEK)).used == 1
        status = await quota.seller_status(seller)
        assert status is not None
        assert status.weekly_quota == 3
        report = await quota.store.last_rebuild()
        assert report is not None
        assert (report["trigger"], report["ledger_facts"], report["statuses"]) == (
            "data_lost",
            5,
            2,
        )


async def test_crm_replay_rebuilds_the_same_state_while_reservations_wait(
    settings: Settings, topics, redis_url: str, test_id: str, redis_client
) -> None:  # type: ignore[no-untyped-def]
    await topics(*QUOTA_TOPICS)
    seller = f"seller-{test_id}"
    async with redis_quota(settings, redis_url) as quota:
        await projecting(quota)(sample_status(seller, weekly_quota=4))
        for plan in ("plan-1", "plan-2", "plan-3"):
            await quota.reserve(seller, plan, "one_time", MID_WEEK)
        await quota.release(seller, "plan-2", "one_time", MID_WEEK)
        await quota.close()
        before = await quota.store.redis.hgetall(quota.store.keys.week(seller, "2024-W27"))
        progress: list[tuple[str, int, int]] = []
        waiting: list[asyncio.Task[Reservation]] = []

        def on_progress(*stage: Any) -> None:
            progress.append(stage)
            if not waiting:  # the markers are down: a reservation now has to wait
                reserve = quota.reserve(seller, "plan-4", "one_time", MID_WEEK)
                waiting.append(asyncio.get_running_loop().create_task(reserve))

        report = await quota.rebuilder.rebuild(on_progress)
        assert not waiting[0].done()
        answer = await waiting[0]

        after = await quota.store.redis.hgetall(quota.store.keys.week(seller, "2024-W27"))
        assert before == {
            "used": "2",
            "plan:plan-1": "reserved",
            "plan:plan-2": "released",
            "plan:plan-3": "reserved",
        }
        assert after == {**before, "used": "3", "plan:plan-4": "reserved"}
        assert (answer.outcome, answer.used) == ("reserved", 3)
        assert (report.trigger, report.ledger_facts) == ("on_demand", 4)
        assert {stage for stage, _, _ in progress} >= {"crm.quota-ledger", "restore"}


async def test_a_fact_landing_in_the_ledger_after_a_rebuild_read_it_is_healed_into_redis(
    settings: Settings, topics, redis_url: str, test_id: str, redis_client: aioredis.Redis
) -> None:  # type: ignore[no-untyped-def]
    await topics(*QUOTA_TOPICS)
    seller = f"seller-{test_id}"
    producer = new_producer(settings)
    await producer.start()
    status = sample_status(seller, weekly_quota=3)
    await producer.send_and_wait(
        settings.topic("crm.seller-status"), encode(status), key=seller.encode()
    )
    await producer.stop()
    async with redis_quota(settings, redis_url) as quota:
        await quota.reserve(seller, "plan-1", "one_time", MID_WEEK)
        week = week_of(MID_WEEK, "TH")
        # Taken in Redis; its ledger write is still in flight when Redis loses everything.
        in_flight = await quota.store.run_week_call(
            WeekCall("reserve", seller, "plan-2", week, utc_now())
        )
        await redis_client.flushall()
        assert (await quota.usage(seller, MID_WEEK)).used == 1, "rebuilt without plan-2"

        await quota.ledger.publish(in_flight.pending)
        confirmed = await quota.store.confirm(seller, in_flight.generation, in_flight.pending)
        assert confirmed == 0, "the slot's generation changed: plain confirmation refuses"
        await quota.store.heal(seller, "TH", in_flight.pending, utc_now())

        assert (await quota.usage(seller, MID_WEEK)).used == 2
        retry = await quota.reserve(seller, "plan-2", "one_time", MID_WEEK)
        assert (retry.outcome, retry.used) == ("already_reserved", 2)
        assert await quota.store.pending_of(seller) == []


async def test_campaign_counters_are_ledgered_and_come_back_after_flushall(
    settings: Settings, topics, redis_url: str, test_id: str, redis_client: aioredis.Redis
) -> None:  # type: ignore[no-untyped-def]
    await topics(*QUOTA_TOPICS)
    seller = f"seller-{test_id}"
    producer = new_producer(settings)
    await producer.start()
    status = sample_status(seller, weekly_quota=3)
    await producer.send_and_wait(
        settings.topic("crm.seller-status"), encode(status), key=seller.encode()
    )
    await producer.stop()
    sale = CampaignLimit(
        f"sale-{test_id}", plans_per_seller=2, ends_at=utc_now() + timedelta(days=60)
    )

    async with redis_quota(settings, redis_url) as quota:
        await quota.usage(seller, MID_WEEK)  # restores the slot, as any first call does
        # Redis took a campaign unit and the process died before the ledger write: the
        # reconciler publishes the fact with its campaign.
        week = week_of(MID_WEEK, "TH")
        await quota.store.run_week_call(
            WeekCall("reserve", seller, "camp-2", week, utc_now(), sale)
        )
        assert await republish_pending(quota.store, quota.ledger, utc_now()) == 1
        await quota.reserve(seller, "camp-1", "campaign", MID_WEEK, sale)
        await quota.reserve(seller, "one-1", "one_time", MID_WEEK)

        await redis_client.flushall()

        over = await quota.reserve(seller, "camp-3", "campaign", MID_WEEK, sale)
        retry = await quota.reserve(seller, "camp-1", "campaign", MID_WEEK, sale)
        assert (over.outcome, over.used, retry.outcome) == (
            "quota_exhausted",
            2,
            "already_reserved",
        )
        assert (await quota.usage(seller, MID_WEEK)).used == 1
        counter = quota.store.keys.counter(seller, sale.label)
        assert await redis_client.pttl(counter) > timedelta(days=60).total_seconds() * 1000

    events = await ledger_events(settings, 3)
    assert Counter((e.event_type, e.plan_id) for e in events) == {
        ("CampaignQuotaReserved", "camp-1"): 1,
        ("QuotaReserved", "one-1"): 1,
        ("CampaignQuotaReserved", "camp-2"): 1,
    }
    camp_2 = next(e for e in events if e.plan_id == "camp-2")
    assert isinstance(camp_2, CampaignQuotaReserved)
    assert (camp_2.campaign_id, camp_2.limit, camp_2.used_after) == (sale.campaign_id, 2, 1)
    assert camp_2.campaign_ends_at == sale.ends_at
