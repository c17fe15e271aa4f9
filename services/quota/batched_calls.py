"""Many concurrent calls, run as a few batches.

Under many concurrent callers a client library spends more time on its own
per-call bookkeeping than the server spends on the work; running the calls as
one batch pays that once. Each caller still gets its own answer, or its own
error.

`PerTurn` runs the calls made in one event-loop turn together. With
`most_in_flight`, a batch starts only while fewer batches are running, and then
carries every call queued meanwhile: batches grow with the round-trip time,
which suits a destination whose cost is per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

BatchRunner = Callable[[list[In]], Awaitable[list[Out | BaseException]]]
"""Runs a batch; answers one result or error per call, in order. Raising fails every call."""


class PerTurn(Generic[In, Out]):
    def __init__(
        self, run_batch: BatchRunner[In, Out], *, most_in_flight: int | None = None
    ) -> None:
        self._run_batch = run_batch
        self._most_in_flight = most_in_flight
        self._queued: list[tuple[In, asyncio.Future[Out]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def __call__(self, item: In) -> Out:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Out] = loop.create_future()
        self._queued.append((item, future))
        if len(self._queued) == 1 and not self._busy:
            loop.call_soon(self._flush)
        return await future

    @property
    def _busy(self) -> bool:
        return self._most_in_flight is not None and len(self._running) >= self._most_in_flight

    def _flush(self) -> None:
        batch, self._queued = self._queued, []
        if not batch:
            return
        task = asyncio.create_task(self._run(batch))
        self._running.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._most_in_flight is not None and self._queued:
            self._flush()

    async def _run(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        try:
            results = await self._run_batch([item for item, _ in batch])
        except Exception as exc:
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue  # the caller was cancelled
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
