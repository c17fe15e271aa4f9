"""Who of a page of recipients is sent to, and their messages: the block list, the
already-messaged marks of automated plans, the frequency cap (quota's batched script)
and the profiles' languages and names. It reads Redis; the rules are in services/delivery/domain."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from schemas.plans import Plan
from services.customers.port import CustomerStore, MessageProfile
from services.delivery.blocks import BlockList
from services.delivery.domain.suppression import Outcome, before_cap
from services.delivery.keys import DeliveryKeys
from services.delivery.rendering import PlanRenderer, message_ids
from services.delivery.shops import ShopNames
from services.quota.port import QuotaPort
from services.shared.clock import Clock


@dataclass
class Decided:
    """Each recipient's outcome, in order, and the (key, value) of each message to send."""

    outcomes: list[Outcome]
    messages: list[tuple[bytes, bytes]]


class RecipientJudge:
    def __init__(
        self,
        *,
        store: CustomerStore,
        quota: QuotaPort,
        blocks: BlockList,
        redis: aioredis.Redis,
        keys: DeliveryKeys,
        shops: ShopNames,
        clock: Clock,
    ) -> None:
        self.store = store
        self.quota = quota
        self.blocks = blocks
        self.redis = redis
        self.keys = keys
        self.shops = shops
        self.clock = clock

    async def renderer(self, plan: Plan) -> PlanRenderer:
        """The plan's messages as of now, naming the shop as its latest profile does."""
        return PlanRenderer(plan, self.clock(), shop_name=await self.shops.name(plan.seller_id))

    async def page(self, plan: Plan, customers: Sequence[str], renderer: PlanRenderer) -> Decided:
        """A page of a dispatched plan's members."""
        return await self._decide(plan, customers, renderer, None)

    async def firings(self, plan: Plan, fired: Sequence[tuple[str, str]]) -> Decided:
        """(customer, mark) pairs of an automated plan's firings. Each pair is marked as
        messaged by its firing (`mark` names the record) unless another firing did it
        first: the same record read again after an abort is a retry and is sent, a second
        firing of the pair is suppressed."""
        key = self.keys.messaged(plan.seller_id, plan.plan_id)
        customers = [c for c, _ in fired]
        pipe = self.redis.pipeline(transaction=False)
        for customer_id, mark in fired:
            pipe.hsetnx(key, customer_id, mark)
        await pipe.execute()
        stored = await self.redis.hmget(key, customers)
        already = [
            (s.decode() if isinstance(s, bytes) else s) != mark
            for s, (_, mark) in zip(stored, fired, strict=True)
        ]
        return await self._decide(plan, customers, await self.renderer(plan), already)

    async def _decide(
        self,
        plan: Plan,
        customers: Sequence[str],
        renderer: PlanRenderer,
        already_messaged: Sequence[bool] | None,
    ) -> Decided:
        if not customers:
            return Decided([], [])
        active = await self._seller_active(plan.seller_id)
        blocked = await self.blocks.blocked(plan.seller_id, customers) if active else []
        # The rule has four possible inputs per page: each is asked once, not per recipient.
        reasons = {
            (b, m): before_cap(seller_active=active, blocked=b, already_messaged=m)
            for b in (False, True)
            for m in (False, True)
        }
        blocked_flags = blocked if active else [False] * len(customers)
        messaged_flags = already_messaged or [False] * len(customers)
        outcomes: list[Outcome]
        positions: Sequence[int]
        if reasons[False, False] is None and not any(blocked_flags) and not any(messaged_flags):
            # Most pages: nobody blocks the shop, nobody was messaged by the plan.
            outcomes, positions, asking = (
                ["sent"] * len(customers),
                range(len(customers)),
                customers,
            )
        else:
            outcomes = [
                reasons[b, bool(m)] or "sent"
                for b, m in zip(blocked_flags, messaged_flags, strict=True)
            ]
            positions = [n for n, outcome in enumerate(outcomes) if outcome == "sent"]
            asking = [customers[n] for n in positions]
        mids = message_ids(plan.plan_id.encode() + b"/", asking)
        # The cap is asked last (asking records the message) and the profiles are read
        # meanwhile: one round trip's wait instead of two.
        decisions, profiles = await asyncio.gather(
            self.quota.may_send_many(
                plan.seller_id, list(zip(asking, mids, strict=True)), self.clock()
            ),
            self._profiles(renderer, asking),
        )
        allowed: list[str] = []
        allowed_ids: list[str] = []
        for n, customer_id, mid, decision in zip(positions, asking, mids, decisions, strict=True):
            if decision.allowed:
                allowed.append(customer_id)
                allowed_ids.append(mid)
            else:
                outcomes[n] = "frequency_capped"
        messages = renderer.render_page(allowed, allowed_ids, profiles)
        return Decided(outcomes, messages)

    async def _seller_active(self, seller_id: str) -> bool:
        status = await self.quota.seller_status(seller_id)
        return status is not None and status.access == "active"

    async def _profiles(
        self, renderer: PlanRenderer, customers: Sequence[str]
    ) -> Mapping[str, MessageProfile]:
        """Each customer's app language and name; profiles are read only when the plan
        has a language to choose or a name to fill in."""
        if not customers or not (renderer.has_choice or renderer.addresses_customers):
            return {}
        return await self.store.message_profiles(customers)
