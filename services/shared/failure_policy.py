"""What every consume loop does when its handler fails on a record: the one policy.

A record can never stop a processor (SPEC section 6). A handler that raises is tried
again with backoff a bounded number of times; one that still fails has its record
dead-lettered with the reason, and the loop moves on. `Rejected` (a rule refusing the
event) is not retried: the answer would not change.

Infrastructure being away is not the record's fault: Redis unreachable or too slow, Kafka
errors, sockets. Those are raised to the loop, which waits and reads the batch again
(its existing outage handling), so an outage dead-letters nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError, ResponseError

from services.shared.rejection import Rejected
from services.shared.settings import Settings

log = structlog.get_logger(__name__)

# Redis answering "not now" rather than "this is wrong".
_REDIS_BUSY = ("OOM", "READONLY", "MASTERDOWN", "TRYAGAIN", "BUSY", "LOADING", "CLUSTERDOWN")


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all; waits double from `first_delay` up to `max_delay`."""

    attempts: int = 5
    first_delay: float = 0.2
    max_delay: float = 5.0

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        return cls(attempts=max(1, settings.handler_attempts))

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based)."""
        return float(min(self.max_delay, self.first_delay * 2 ** (attempt - 1)))


def is_outage(exc: BaseException) -> bool:
    """Infrastructure away or busy: the loop waits it out instead of blaming the record."""
    if isinstance(exc, ResponseError):
        return str(exc).startswith(_REDIS_BUSY)
    return isinstance(exc, RedisError | KafkaError | OSError)


async def settle(
    call: Callable[[], Awaitable[None]],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[BaseException, int], None] | None = None,
) -> str | None:
    """Run `call` under the policy: None once it succeeds, else the reason to dead-letter
    its record. Outages are raised, never turned into a reason."""
    for attempt in range(1, policy.attempts + 1):
        try:
            await call()
            return None
        except Rejected as exc:
            return exc.reason
        except Exception as exc:
            if is_outage(exc):
                raise
            if attempt == policy.attempts:
                log.exception("handler_failed", attempts=attempt)
                return failure_reason(exc, attempt)
            if on_retry is not None:
                on_retry(exc, attempt)
            log.warning("handler_retried", error=repr(exc), attempt=attempt)
            await asyncio.sleep(policy.delay(attempt))
    raise AssertionError("unreachable")


def failure_reason(exc: BaseException, attempts: int) -> str:
    return f"unhandled {type(exc).__name__} after {attempts} attempts: {exc}"
