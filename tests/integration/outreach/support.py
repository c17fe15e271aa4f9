"""Small helpers of the API tests: waiting for projections, checking problems."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from schemas.seller import SellerStatusChanged
from services.quota.adapter import RedisQuota

_status_offsets = itertools.count(1)


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """The first truthy result of `check`, or its last result after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.1)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["type"], str)
    assert body["type"]
    return body


async def project_status(quota: object, status: SellerStatusChanged) -> None:
    """Straight into the quota's status projection, as its consumer would write it."""
    assert isinstance(quota, RedisQuota)
    await quota.store.put_status(status, next(_status_offsets))
