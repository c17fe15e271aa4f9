"""The frequency cap's history (`cap:<customer>` sorted sets) refolded from
crm.outbound-messages after Redis lost it: every message that went out is a message
the cap allowed, at the moment it was rendered. Refusals are not in the topic and need
not be: a refused message was refused because the window was full, which the refolded
history shows again.

Delivery's fan-out owns this projection's guard (it rebuilds it before it judges anyone,
services/delivery/healing.py) but never sees its keys: it asks the port for
`cap_history_guard`; `crm replay` refolds it through `rebuild_cap_history`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from schemas.envelope import Event
from schemas.outbound import OutboundMessage
from services.policy import PolicyBook, policy_of
from services.quota.domain.frequency_cap import frequency_cap_for
from services.quota.keys import quota_keys
from services.quota.redis_store import RedisQuotaStore, quota_redis
from services.shared.clock import Clock
from services.shared.projection_guard import ProjectionGuard
from services.shared.replay import Progress
from services.shared.settings import Settings

SENT = ("crm.outbound-messages",)

# KEYS[1] the customer's sent set. ARGV: ms sent, message_id, keep until (ms).
_REMEMBER = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PEXPIRETIME', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
return 1
"""


class CapHistory:
    def __init__(self, store: RedisQuotaStore, book: PolicyBook) -> None:
        self.store = store
        self.book = book
        self._remember = store.redis.register_script(_REMEMBER)

    async def fold(self, events: Sequence[tuple[int, Event]], now: datetime) -> None:
        """Remember each message still inside two windows of `now` (as the cap keeps them)."""
        pipe = self.store.redis.pipeline(transaction=False)
        markets: dict[str, str | None] = {}
        for _, event in events:
            if not isinstance(event, OutboundMessage):
                continue
            if event.seller_id not in markets:
                markets[event.seller_id] = await self.store.seller_market(event.seller_id)
            window = frequency_cap_for(self.book, markets[event.seller_id]).window
            keep_until = event.occurred_at + 2 * window
            if keep_until <= now:
                continue
            key = self.store.keys.cap_sent(event.seller_id, event.customer_id)
            args: list[int | str] = [_ms(event.occurred_at), event.message_id, _ms(keep_until)]
            await self._remember(keys=[key], args=args, client=pipe)
        await pipe.execute()


def cap_history_guard(settings: Settings, store: RedisQuotaStore, clock: Clock) -> ProjectionGuard:
    """The guard of the sent history (projection "frequency-cap"): it refolds what Redis
    lost from crm.outbound-messages, as far back as the cap still looks."""
    book = policy_of(settings)
    history = CapHistory(store, book)
    # The cap keeps two windows; the widest market's bounds what is read back.
    widest = max(frequency_cap_for(book, m).window for m in [None, *book.markets])

    async def fold(chunk: list[tuple[int, Event]]) -> None:
        await history.fold(chunk, clock())

    return ProjectionGuard(
        settings,
        store.redis,
        "frequency-cap",
        topics=SENT,
        fold=fold,
        since=lambda: clock() - 2 * widest,
    )


async def rebuild_cap_history(
    settings: Settings, clock: Clock, progress: Progress | None = None
) -> int:
    """`crm replay`: refold the sent history on demand, beside live workers (they wait for
    the new marker). Events folded."""
    redis = quota_redis(settings)
    try:
        store = RedisQuotaStore(redis, quota_keys(settings))
        return await cap_history_guard(settings, store, clock).rebuild(progress)
    finally:
        await redis.aclose()


def _ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)
