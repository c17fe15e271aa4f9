"""Running a plain-asyncio worker until SIGTERM or SIGINT asks it to stop."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

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

    asyncio.run(until_signalled())
