"""`crm policy simulate`: every seller of a market decided from the worker's committed
state (read back from its changelog) under the policy in force and under a candidate."""

from __future__ import annotations

import asyncio

from services.eligibility.changelog import read_partition
from services.eligibility.domain.what_if import Comparison, decided
from services.eligibility.partition_state import PartitionState
from services.eligibility.topics import PARTITIONS
from services.policy.domain import PolicyBook
from services.shared.clock import utc_now
from services.shared.settings import Settings


async def simulate(
    settings: Settings, in_force: PolicyBook, candidate: PolicyBook, market: str, month: str
) -> Comparison:
    now = utc_now()
    states = [PartitionState(p, in_force, lambda: now) for p in range(PARTITIONS)]
    await asyncio.gather(*(read_partition(settings, s.partition, s.restore) for s in states))
    current, proposed = in_force.for_market(market), candidate.for_market(market)
    comparison = Comparison()
    for state in states:
        state.settle()
        for seller_id, seller in state.sellers.items():
            if seller.market != market:
                continue
            tally = state.tally(seller_id, month)
            comparison.add(
                seller_id,
                decided(seller, month, tally, current),
                decided(seller, month, tally, proposed),
            )
    return comparison
