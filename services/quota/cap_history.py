"""The frequency cap's history (the `caps:<period>` hashes, scripts/may_send_many.lua) refolded from
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
from services.quota.redis_store import RedisQuotaStore, cap_kept_until, cap_periods, quota_redis
from services.shared.clock import Clock
from services.shared.projection_guard import ProjectionGuard
from services.shared.replay import Progress
from services.shared.settings import Settings

SENT = ("crm.outbound-messages",)

# KEYS[1] a period of the seller's decisions. ARGV: keep until (ms), then customer_id,
# ms sent, message_id of each message: remembered as sent unless it is there already.
_REMEMBER = """
for i = 2, #ARGV, 3 do
  local customer, ms, message = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local history = redis.call('HGET', KEYS[1], customer) or ''
  local pos, n, known = 1, #history, false
  while pos <= n do
    local colon = string.find(history, ':', pos + 1, true)
    local after = string.find(history, ':', colon + 1, true)
    local length = tonumber(string.sub(history, colon + 1, after - 1))
    if string.sub(history, after + 1, after + length) == message then
      known = true
    end
    pos = after + length + 1
  end
  if not known then
    redis.call('HSET', KEYS[1], customer,
      history .. 's' .. ms .. ':' .. string.format('%d', #message) .. ':' .. message)
  end
end
if redis.call('PEXPIRETIME', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[1])
end
return 1
"""
# Messages remembered per script.
_PER_SCRIPT = 1000


class CapHistory:
    def __init__(self, store: RedisQuotaStore, book: PolicyBook) -> None:
        self.store = store
        self.book = book
        self._remember = store.redis.register_script(_REMEMBER)

    async def fold(self, events: Sequence[tuple[int, Event]], now: datetime) -> None:
        """Remember each message still inside two windows of `now` (as the cap keeps them)."""
        markets: dict[str, str | None] = {}
        periods: dict[tuple[str, int], tuple[int, list[str]]] = {}
        for _, event in events:
            if not isinstance(event, OutboundMessage):
                continue
            if event.seller_id not in markets:
                markets[event.seller_id] = await self.store.seller_market(event.seller_id)
            window = frequency_cap_for(self.book, markets[event.seller_id]).window
            if event.occurred_at + 2 * window <= now:
                continue
            sent, window_ms = _ms(event.occurred_at), int(window.total_seconds() * 1000)
            _, period, _ = cap_periods(sent, window_ms)
            kept_until = cap_kept_until(period, window_ms, _ms(now))
            held = periods.setdefault((event.seller_id, period), (kept_until, []))
            held[1].extend((event.customer_id, str(sent), event.message_id))
        pipe = self.store.redis.pipeline(transaction=False)
        for (seller_id, period), (kept_until, triples) in periods.items():
            key = self.store.keys.cap_period(seller_id, period)
            for start in range(0, len(triples), 3 * _PER_SCRIPT):
                args: list[int | str] = [kept_until, *triples[start : start + 3 * _PER_SCRIPT]]
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
        # 2: decisions by seller and period (1 was a sorted set per customer): a Redis
        # upgraded from 1 refolds the window into the periods at the first start.
        layout=2,
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
