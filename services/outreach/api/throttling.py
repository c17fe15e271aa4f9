"""The route dependency that applies the per seller rate limit (rate_limit.py)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends

from services.outreach.api.auth import CurrentAccount
from services.outreach.api.problems import ProblemError
from services.outreach.api.runtime import Runtime, runtime_of


async def rate_limited(
    account: CurrentAccount, runtime: Annotated[Runtime, Depends(runtime_of)]
) -> None:
    """A route dependency: 429 with Retry-After once the seller's bucket is empty."""
    wait = await runtime.rate_limiter.take(account.seller_id)
    if wait is None:
        return
    retry_after = max(1, math.ceil(wait))
    raise ProblemError(
        429,
        "Too Many Requests",
        f"this seller sends more than {runtime.limits.rate_per_second:g} requests per second "
        f"(bursts up to {runtime.limits.rate_burst}); retry after {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )
