"""The quota worker's start-up steps wait out Redis and Kafka instead of exiting."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.quota import worker


class Step:
    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "START_RETRY_SECONDS", 0.001)


async def test_a_step_is_run_again_until_it_succeeds() -> None:
    step = Step(RedisTimeoutError("Timeout reading from socket"), KafkaConnectionError())
    assert await worker._patiently(asyncio.Event(), step, "reconcile_failed") is True
    assert step.calls == 3


async def test_stopping_ends_the_wait_without_success() -> None:
    stopping = asyncio.Event()
    step = Step(*(RedisTimeoutError() for _ in range(1000)))
    waiting = asyncio.create_task(worker._patiently(stopping, step, "redis_unreachable"))
    await asyncio.sleep(0.05)
    stopping.set()
    assert await asyncio.wait_for(waiting, 5) is False
    assert step.calls >= 2


async def test_an_error_that_is_not_an_outage_is_raised() -> None:
    step = Step(ValueError("a bug, not an outage"))
    with pytest.raises(ValueError, match="a bug"):
        await worker._patiently(asyncio.Event(), step, "reconcile_failed")
