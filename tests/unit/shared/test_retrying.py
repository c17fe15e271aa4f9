from __future__ import annotations

import pytest
from aiokafka.errors import GroupCoordinatorNotAvailableError, TopicAuthorizationFailedError

from services.shared.kafka import retrying


class Flaky:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


async def test_retriable_errors_are_retried_until_success() -> None:
    call = Flaky([GroupCoordinatorNotAvailableError(), GroupCoordinatorNotAvailableError()])
    assert await retrying(call, delay=0) == "ok"
    assert call.calls == 3


async def test_a_non_retriable_error_is_raised_at_once() -> None:
    call = Flaky([TopicAuthorizationFailedError(), GroupCoordinatorNotAvailableError()])
    with pytest.raises(TopicAuthorizationFailedError):
        await retrying(call, delay=0)
    assert call.calls == 1


async def test_gives_up_after_the_last_attempt() -> None:
    call = Flaky([GroupCoordinatorNotAvailableError() for _ in range(5)])
    with pytest.raises(GroupCoordinatorNotAvailableError):
        await retrying(call, attempts=3, delay=0)
    assert call.calls == 3
