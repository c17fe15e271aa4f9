"""The one policy every consume loop applies when its handler fails on a record."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.shared.failure_policy import RetryPolicy, is_outage, settle
from services.shared.rejection import Rejected

FAST = RetryPolicy(attempts=4, first_delay=0)


class Failing:
    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)


async def test_a_passing_failure_is_retried_and_succeeds() -> None:
    call = Failing(OverflowError("date value out of range"))
    assert await settle(call, FAST) is None
    assert call.calls == 2


async def test_a_lasting_failure_gives_up_after_the_attempts_with_a_reason() -> None:
    call = Failing(*(OverflowError("date value out of range") for _ in range(10)))
    reason = await settle(call, FAST)
    assert call.calls == 4
    assert reason == "unhandled OverflowError after 4 attempts: date value out of range"


async def test_a_refusal_is_not_retried() -> None:
    call = Failing(Rejected("unknown plan p-1"))
    assert await settle(call, FAST) == "unknown plan p-1"
    assert call.calls == 1


@pytest.mark.parametrize(
    "outage",
    [
        RedisConnectionError("refused"),
        RedisTimeoutError("timed out"),
        ResponseError("OOM command not allowed when used memory > 'maxmemory'"),
        KafkaConnectionError(),
        ConnectionResetError(),
    ],
)
async def test_an_outage_is_the_loops_to_wait_out_never_a_dead_letter(outage: Exception) -> None:
    assert is_outage(outage)
    with pytest.raises(type(outage)):
        await settle(Failing(outage), FAST)


def test_a_redis_error_about_the_data_is_the_records_fault() -> None:
    overflow = ResponseError("increment would produce NaN or Infinity")
    assert not is_outage(overflow)


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(attempts=10, first_delay=0.2, max_delay=1.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.2, 0.4, 0.8, 1.0, 1.0]
