"""Concurrent calls run as batches; each caller gets its own answer or error."""

from __future__ import annotations

import asyncio

import pytest

from services.quota.batched_calls import PerTurn

pytestmark = pytest.mark.unit


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay
        self.running = 0
        self.most_running = 0

    async def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(items)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        await asyncio.sleep(self.delay)
        self.running -= 1
        return [ValueError(f"odd {n}") if n % 2 else n * 10 for n in items]


async def test_calls_of_one_turn_share_a_batch_and_get_their_own_answers() -> None:
    recorder = Recorder()
    calls = PerTurn(recorder)
    answers = await asyncio.gather(*(calls(n) for n in range(6)), return_exceptions=True)

    assert recorder.batches == [[0, 1, 2, 3, 4, 5]]
    assert answers[::2] == [0, 20, 40]
    assert [str(a) for a in answers[1::2]] == ["odd 1", "odd 3", "odd 5"]


async def test_a_failing_batch_fails_each_of_its_calls() -> None:
    async def broken(items: list[int]) -> list[int | BaseException]:
        raise ConnectionError("down")

    calls = PerTurn(broken)
    answers = await asyncio.gather(calls(1), calls(2), return_exceptions=True)
    assert [type(a) for a in answers] == [ConnectionError, ConnectionError]


async def test_at_most_n_batches_run_and_the_next_carries_what_queued_meanwhile() -> None:
    recorder = Recorder(delay=0.01)
    calls = PerTurn(recorder, most_in_flight=1)

    async def later(n: int, after: float) -> int:
        await asyncio.sleep(after)
        return await calls(n)

    await asyncio.gather(calls(0), later(2, 0.002), later(4, 0.004), later(6, 0.006))

    assert recorder.most_running == 1
    assert recorder.batches == [[0], [2, 4, 6]]


async def test_a_cancelled_caller_does_not_break_the_batch() -> None:
    recorder = Recorder(delay=0.01)
    calls = PerTurn(recorder)
    cancelled = asyncio.create_task(calls(2))
    kept = asyncio.create_task(calls(4))
    await asyncio.sleep(0)
    cancelled.cancel()
    assert await kept == 40
    assert cancelled.cancelled()
