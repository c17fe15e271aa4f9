"""Running a plain-asyncio worker until SIGTERM or SIGINT asks it to stop."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import uvloop

from services.shared.logs import configure_logging
from services.shared.settings import Settings

Run = Callable[[Settings, asyncio.Event], Awaitable[None]]


def run_until_signalled(service: str, settings: Settings, run: Run) -> None:
    """`run(settings, stopping)` on a new loop; a signal sets `stopping`, and the worker
    finishes what it is doing and returns."""
    configure_logging(service, settings.log_level, settings.log_format)

    async def until_signalled() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await run(settings, stopping)

    # uvloop: a worker's time goes mostly to socket writes and event-loop callbacks
    # (broker requests of each transaction, Redis calls), which libuv does in C. `crm api`
    # already runs on it through uvicorn. Measured with the submit bench
    # (bench/outreach.py) on a loaded 2-core host, together with the plan book's cheaper
    # due check: 191-197 submits/s kept up with where the processor had fallen to 95-123.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(until_signalled())
