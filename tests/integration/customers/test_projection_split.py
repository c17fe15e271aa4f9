"""The customers projection refolded by two processes (services/shared/refold_split.py)
ends exactly where a refold by one process does: the same relationships, markets and
memberships, every seller's records folded once, by the process that owns its key."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from demo.sample_status import sample_status
from services.customers.domain.relationship import fold
from services.customers.healing import customers_guard
from services.customers.projection import TOPICS
from services.customers.recompute import recompute_seller
from services.customers.store import customer_store, customers_redis
from services.shared.refold_split import Share
from services.shared.settings import Settings
from tests.integration.customers.test_projection import _as, _histories, _publish, _topic_of

pytestmark = pytest.mark.integration

SELLERS = [f"s{n}" for n in range(8)]


async def test_a_refold_shared_by_two_processes_ends_where_one_process_does(
    settings: Settings, topics: Callable[..., Any], redis_url: str
) -> None:
    assert {Share(0, 2).owns_text(s) for s in SELLERS} == {True, False}  # both get sellers
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*TOPICS)
    histories = _histories()
    events = [
        (_topic_of(e), _as(e, customer, seller))
        for seller in SELLERS
        for customer, history in histories.items()
        for e in history
    ]
    events += [("crm.seller-status", sample_status(s, market="TH")) for s in SELLERS]
    await _publish(settings, events)
    redis = customers_redis(settings)
    store = customer_store(settings, redis)
    try:
        guard = customers_guard(settings, redis, lambda: datetime.now(UTC))
        assert guard.split is not None
        guard.split = dataclasses.replace(guard.split, least=0, processes=2)
        assert await guard.rebuild(settle=0) == len(events)

        for seller in SELLERS:
            stored = await store.load_relationships(seller, list(histories))
            for customer, history in histories.items():
                expected = fold(_as(e, customer, seller) for e in history)
                assert stored[customer] == expected, (seller, customer)
            assert await store.market(seller) == "TH"
            as_of, sizes = await store.sizes(seller)
            assert as_of is not None, seller  # memberships recomputed, in the processes
            # The same memberships one process computes from the same relationships.
            again = await recompute_seller(settings, redis, seller, as_of)
            assert again.sizes == sizes, seller
            assert sizes["engaged_visitors"] == 2  # c-cart and c-fan, never ordered
    finally:
        await redis.aclose()
