"""The segment recompute against the real Redis: crafted histories give the right members
and sizes as of D, and readers move to D only once D is complete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from schemas.segments import SegmentCondition, SegmentDefined, SegmentDeleted
from services.customers.recompute import FUTURE_DAY, NO_MARKET, UNKNOWN_MARKET, SellerRecomputed
from services.customers.store import RedisCustomerStore
from services.shared.settings import Settings
from tests.integration.customers.segment_support import (
    JAVA_BUYERS,
    D,
    Shop,
    crafted_histories,
    crafted_profiles,
    fill,
    idn,
    shop,
)
from tests.unit.customers import builders as b

EXPECTED = {
    "new_customers": {"new"},
    "repeat_customers": {"repeat"},
    # new, repeat and lapsed spent in the last 365 days: one place, the biggest spender.
    "high_value_customers": {"repeat"},
    "lapsed_customers": {"lapsed"},
    "followers_not_purchased": {"fan-java", "fan-bali", "fan-unknown"},
    "cart_abandoners": {"cart"},
    "engaged_visitors": {"cart"},
    "java-buyers": {"fan-java"},
    "frequent": {"repeat"},
}


@pytest.fixture
async def crafted(settings: Settings, redis_url: str, test_id: str) -> AsyncIterator[Shop]:
    async with shop(settings, redis_url) as s:
        await fill(s.store, f"s-{test_id}", crafted_histories())
        await s.store.save_profiles(crafted_profiles())
        customs: list[tuple[str, list[Any]]] = [
            ("java-buyers", JAVA_BUYERS),
            ("frequent", [{"field": "order_count", "op": "gte", "value": 2}]),
        ]
        for offset, (segment_id, conditions) in enumerate(customs):
            await s.definitions.apply(_defined(f"s-{test_id}", segment_id, conditions), offset)
        yield s


def _defined(seller: str, segment_id: str, conditions: list[Any]) -> SegmentDefined:
    return SegmentDefined(
        event_id=b._id("defined", seller, segment_id),
        occurred_at=idn("2024-06-01"),
        seller_id=seller,
        segment_id=segment_id,
        account_id=seller,
        name=segment_id,
        conditions=[SegmentCondition.model_validate(c) for c in conditions],
    )


async def test_crafted_histories_give_the_members_and_sizes_as_of_d(
    crafted: Shop, test_id: str
) -> None:
    seller = f"s-{test_id}"
    done = await crafted.recompute().seller(seller, D)
    assert (done.market, done.as_of, done.customers, done.skipped) == ("ID", D, 8, None)
    for segment, members in EXPECTED.items():
        assert await crafted.members(seller, segment) == members, segment
    sizes = {segment: len(members) for segment, members in EXPECTED.items()}
    assert done.sizes == sizes
    assert await crafted.store.sizes(seller) == (D, sizes)


async def test_a_deleted_custom_segment_is_no_longer_computed(crafted: Shop, test_id: str) -> None:
    seller = f"s-{test_id}"
    deleted = SegmentDeleted(
        event_id=b._id("deleted", seller),
        occurred_at=idn("2024-06-02"),
        seller_id=seller,
        segment_id="frequent",
        account_id=seller,
    )
    await crafted.definitions.apply(deleted, 10)
    done = await crafted.recompute().seller(seller, D)
    assert "frequent" not in done.sizes
    assert done.sizes["java-buyers"] == 1


class FailingAfterOnePage(RedisCustomerStore):
    """Redis going away in the middle of a seller's scan."""

    async def scan_raw(
        self, seller_id: str, page: int = 2
    ) -> AsyncIterator[list[tuple[str, bytes]]]:
        async for chunk in super().scan_raw(seller_id, page):
            yield chunk
            raise ConnectionError("redis went away")


async def test_as_of_moves_to_d_only_when_d_is_complete(crafted: Shop, test_id: str) -> None:
    seller = f"s-{test_id}"
    yesterday = D - timedelta(days=1)
    before = await crafted.recompute().seller(seller, yesterday)
    assert await crafted.store.latest_as_of(seller) == yesterday

    failing = FailingAfterOnePage(crafted.redis, crafted.store.prefix)
    with pytest.raises(ConnectionError):
        await crafted.recompute(failing).seller(seller, D)
    assert await crafted.store.sizes(seller) == (yesterday, before.sizes)

    await crafted.recompute().seller(seller, D)
    assert await crafted.store.latest_as_of(seller) == D
    # A recompute of a past day rewrites that day but never takes readers back to it.
    await crafted.recompute().seller(seller, yesterday)
    as_of, sizes = await crafted.store.sizes(seller)
    assert as_of == D
    assert sizes["cart_abandoners"] == 1


async def test_sellers_without_a_market_or_with_a_future_day_are_skipped_and_reported(
    crafted: Shop, test_id: str
) -> None:
    placed, unplaced, odd = f"s-{test_id}", f"u-{test_id}", f"x-{test_id}"
    await fill(crafted.store, unplaced, {"c1": [b.followed(idn("2024-05-01"))]}, market=None)
    await fill(crafted.store, odd, {"c1": [b.followed(idn("2024-05-01"))]}, market="XX")
    seen: list[tuple[int, int, str]] = []

    def progress(done: int, total: int, outcome: SellerRecomputed) -> None:
        seen.append((done, total, outcome.seller_id))

    done = await crafted.recompute().sellers([placed, unplaced, odd], D, progress)
    by_seller = {d.seller_id: d for d in done}
    assert by_seller[unplaced].skipped == NO_MARKET
    assert by_seller[odd].skipped == UNKNOWN_MARKET
    assert by_seller[placed].sizes["java-buyers"] == 1
    assert sorted(seen)[-1][:2] == (3, 3)
    assert {s for _, _, s in seen} == {placed, unplaced, odd}
    assert await crafted.store.latest_as_of(unplaced) is None

    # Jakarta's today is 2024-07-03 by the shop's clock: the 4th has not begun.
    future = await crafted.recompute().seller(placed, D + timedelta(days=1))
    assert future.skipped == FUTURE_DAY
    assert await crafted.store.latest_as_of(placed) == D


async def test_a_market_recomputes_its_sellers_only_and_defaults_to_their_today(
    crafted: Shop, test_id: str
) -> None:
    jakarta, london = f"s-{test_id}", f"g-{test_id}"
    await fill(crafted.store, london, {"c1": [b.followed(idn("2024-05-01"))]}, market="GB")
    # 12:00 in Jakarta is 06:00 in London: both are on 2024-07-03.
    done = await crafted.recompute().market("GB")
    assert [(d.seller_id, d.as_of) for d in done] == [(london, D)]
    assert await crafted.store.latest_as_of(jakarta) is None
    # 2024-07-03 23:30 in London is already the 4th in Jakarta.
    crafted.clock.now = b.local("GB", "2024-07-03", "23:30")
    everyone = {d.seller_id: d.as_of for d in await crafted.recompute().everyone()}
    assert everyone == {jakarta: D + timedelta(days=1), london: D}


async def test_an_undecodable_relationship_is_left_out_and_the_rest_computed(
    crafted: Shop, test_id: str
) -> None:
    seller = f"s-{test_id}"
    await crafted.redis.hset(crafted.store.rel_key(seller), "garbled", b'{"orders": 7}')
    done = await crafted.recompute().seller(seller, D)
    assert done.customers == 8
    assert done.sizes["followers_not_purchased"] == 3
