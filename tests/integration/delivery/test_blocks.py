"""The block list answers a page the same whether the seller's list is empty, smaller
than the page (read whole) or larger (asked id by id)."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from services.delivery.blocks import BlockList
from services.delivery.keys import DeliveryKeys
from services.shared.settings import Settings


@pytest.mark.parametrize("blocking", [0, 3, 40])
async def test_a_page_is_answered_alike_for_any_size_of_block_list(
    blocking: int, settings: Settings, redis_client: aioredis.Redis, test_id: str
) -> None:
    blocks = BlockList(redis_client, DeliveryKeys(f"{test_id}:delivery"))
    seller = f"seller-{test_id}"
    blockers = [f"c{n}" for n in range(0, 2 * blocking, 2)]  # every other customer
    await blocks.apply({(seller, c): True for c in blockers})
    await blocks.apply({(f"other-{test_id}", "c1"): True})  # another seller's block

    page = [f"c{n}" for n in range(20)]
    assert await blocks.blocked(seller, page) == [c in set(blockers) for c in page]
    assert await blocks.blocked(seller, []) == []
