"""Delivery's Redis projections heal themselves after Redis lost them
(services/shared/projection_guard.py):

- blocks: crm.shop-blocks up to the blocks group's committed offsets;
- shop-names: crm.seller-accounts' ShopProfileUpdated, likewise;
- frequency-cap: the cap's sent history, from crm.outbound-messages (quota's keys and
  quota's guard, asked of quota's port: services/quota/cap_history.py);
- already-messaged: each automated plan's (plan, customer) marks, from the automated
  messages of crm.outbound-messages;
- performance: its four topics up to the performance group's committed offsets (exact
  under a second reading: every count is guarded by a mark, see performance/projection.py);
  it waits for the customers projection first, whose markets date its day buckets.

The fan-out owns blocks, shop-names, frequency-cap and already-messaged (it rebuilds them before
it reads them, see `delivery_gate`) and waits for customers; nothing is sent from a
projection being rebuilt.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from schemas.engagement import ShopBlocked, ShopUnblocked
from schemas.envelope import Event
from schemas.outbound import OutboundMessage
from schemas.seller import ShopProfileUpdated
from services.customers.port import customers_guard
from services.delivery.blocks import TOPICS as BLOCK_TOPICS
from services.delivery.blocks import BlockList
from services.delivery.keys import DeliveryKeys
from services.delivery.performance.projection import TOPICS as PERFORMANCE_TOPICS
from services.delivery.performance.projection import PerformanceFold
from services.delivery.performance.store import PerformanceStore
from services.delivery.shops import TOPICS as SHOP_TOPICS
from services.delivery.shops import ShopNames
from services.shared import groups
from services.shared.clock import Clock
from services.shared.projection_guard import ProjectionGate, ProjectionGuard
from services.shared.settings import Settings

SENT = ("crm.outbound-messages",)
# The mark a refolded pair gets: never the name of a firing record, so a firing read
# again is a second firing (suppressed), as the lost mark would have said.
REFOLDED_MARK = "refolded"


def blocks_guard(settings: Settings, blocks: BlockList) -> ProjectionGuard:
    async def fold(chunk: list[tuple[int, Event]]) -> None:
        latest: dict[tuple[str, str], bool] = {}
        for _, event in chunk:
            if isinstance(event, ShopBlocked | ShopUnblocked):
                pair = (event.seller_id, event.customer_id)
                latest.pop(pair, None)  # log order: the latest event last
                latest[pair] = isinstance(event, ShopBlocked)
        await blocks.apply(latest)

    return ProjectionGuard(
        settings,
        blocks.redis,
        "blocks",
        topics=BLOCK_TOPICS,
        fold=fold,
        group_id=groups.delivery_blocks(settings),
    )


def shop_names_guard(settings: Settings, names: ShopNames) -> ProjectionGuard:
    async def fold(chunk: list[tuple[int, Event]]) -> None:
        latest = {e.seller_id: e.shop_name for _, e in chunk if isinstance(e, ShopProfileUpdated)}
        await names.apply(latest)

    return ProjectionGuard(
        settings,
        names.redis,
        "shop-names",
        topics=SHOP_TOPICS,
        fold=fold,
        group_id=groups.delivery_shop_names(settings),
    )


def messaged_guard(
    settings: Settings, redis: aioredis.Redis, keys: DeliveryKeys
) -> ProjectionGuard:
    async def fold(chunk: list[tuple[int, Event]]) -> None:
        pipe = redis.pipeline(transaction=False)
        for _, event in chunk:
            if isinstance(event, OutboundMessage) and event.plan_type == "automated":
                key = keys.messaged(event.seller_id, event.plan_id)
                pipe.hsetnx(key, event.customer_id, REFOLDED_MARK)
        await pipe.execute()

    return ProjectionGuard(settings, redis, "already-messaged", topics=SENT, fold=fold)


def performance_guard(
    settings: Settings, store: PerformanceStore, customers: ProjectionGuard
) -> ProjectionGuard:
    refold = PerformanceFold(store)

    async def fold(chunk: list[tuple[int, Event]]) -> None:
        for offset, event in chunk:
            await refold.handle(event, None, offset)
        await refold.flush()

    return ProjectionGuard(
        settings,
        store.redis,
        "performance",
        topics=PERFORMANCE_TOPICS,
        fold=fold,
        group_id=groups.delivery_performance(settings),
        needs=(customers,),
    )


def delivery_gate(
    settings: Settings,
    *,
    redis: aioredis.Redis,
    blocks: ProjectionGuard,
    shop_names: ProjectionGuard,
    cap_history: ProjectionGuard,
    keys: DeliveryKeys,
    clock: Clock,
) -> ProjectionGate:
    """What the fan-out needs whole before it judges a recipient. `cap_history`: the
    frequency cap's sent history, quota's projection behind quota's port."""
    return ProjectionGate(
        owned=[
            blocks,
            shop_names,
            cap_history,
            messaged_guard(settings, redis, keys),
        ],
        awaited=[customers_guard(settings, redis, clock)],
    )
