"""The frequency cap's history (`cap:<customer>` sorted sets) refolded from
crm.outbound-messages after Redis lost it: every message that went out is a message
the cap allowed, at the moment it was rendered. Refusals are not in the topic and need
not be: a refused message was refused because the window was full, which the refolded
history shows again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from schemas.envelope import Event
from schemas.outbound import OutboundMessage
from services.policy import PolicyBook
from services.quota.domain.frequency_cap import frequency_cap_for
from services.quota.redis_store import RedisQuotaStore

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


def _ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)
