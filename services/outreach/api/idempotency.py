"""Idempotency-Key of the creating POSTs (SPEC section 7): a key reused with another body
gets 422 instead of the first request's result.

The first request with a key records a digest of its body (SET NX, kept as long as what
it created); a later one with that key must carry the same body. Bodies are compared
as parsed JSON, so spacing and key order do not matter.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import redis.asyncio as aioredis

from services.outreach.api.problems import FieldError, ProblemError


def _digest(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def check_idempotency_key(
    redis: aioredis.Redis,
    prefix: str,
    *,
    resource: str,
    seller_id: str,
    account_id: str,
    key: str,
    body: Any,
) -> None:
    """Record this body under the key, or raise 422 when the key came with another body."""
    digest = _digest(body)
    key_digest = hashlib.sha256(key.encode()).hexdigest()
    name = f"{prefix}outreach:idempotency:{{{seller_id}}}:{resource}:{account_id}:{key_digest}"
    first = await redis.set(name, digest, nx=True, get=True)
    if first is None:
        return
    if (first.decode() if isinstance(first, bytes) else str(first)) != digest:
        raise ProblemError(
            422,
            "Idempotency-Key reused",
            "this Idempotency-Key was used with another body; use a new key for a new request",
            errors=[
                FieldError(field="header.idempotency-key", message="used before with another body")
            ],
        )
