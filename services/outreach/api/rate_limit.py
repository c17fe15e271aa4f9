"""Per seller rate limit of the seller API (SPEC section 7): a token bucket in Redis, so
every API process shares one bucket per seller.

The bucket refills by Redis's own clock (TIME inside the script): API processes on
several hosts then agree on the time, and a test's fixed runtime clock does not freeze
the refill. A refused request takes no token.
"""

from __future__ import annotations

import redis.asyncio as aioredis

# KEYS[1] the seller's bucket {tokens, at_ms}. ARGV: refill per second, burst.
# Answers {1, 0} when a token was taken, {0, ms until one is there} otherwise.
_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local taken = 0
local wait_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
  taken = 1
else
  wait_ms = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
-- A bucket left alone refills to full: then it need not be kept.
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {taken, wait_ms}
"""


class RateLimiter:
    def __init__(
        self, redis: aioredis.Redis, prefix: str, *, per_second: float, burst: int
    ) -> None:
        self.per_second = per_second
        self.burst = burst
        self._prefix = f"{prefix}outreach:rate"
        self._take = redis.register_script(_TAKE)

    def key(self, seller_id: str) -> str:
        # Hash-tagged by seller: one bucket, one cluster slot.
        return f"{self._prefix}:{{{seller_id}}}"

    async def take(self, seller_id: str) -> float | None:
        """None when the request may go on, else the seconds until a token is there."""
        taken, wait_ms = await self._take(
            keys=[self.key(seller_id)], args=[repr(self.per_second), self.burst]
        )
        return None if int(taken) else int(wait_ms) / 1000
