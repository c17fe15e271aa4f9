"""A projection refold shared by processes (issue 20's bound: 1,000,000 relationships
and their memberships in under a minute on two cores, where one Python process folds
some 25,000 records a second: decoding, admission and the fold are pure Python).

Each process owns the Kafka keys whose CRC-32 falls to it (`Share.owns`). It reads
every partition of the topic but decodes and folds only the records of its keys, so
all of a key's records are folded by one process (one writer per seller's relationships,
whichever partition a producer put them in), each process remembering the event_ids
of its keys as the replay does (services/shared/replay.py). The processes are spawned,
not forked: the parent holds an event loop and Kafka client threads.

`Shares.run(work, *args)` calls the module-level coroutine function `work(share, *args)`
in each process and returns their results once all are done; a failure in one is
raised (the rebuild fails and is retried, as an in-process one is); a cancelled run
terminates the processes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import zlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from multiprocessing.pool import Pool
from typing import Any

# How often the parent looks at its processes' results and progress.
POLL_SECONDS = 0.2
# Processes a shared refold uses: one per core, at least two.
PROCESSES = min(8, max(2, os.cpu_count() or 2))

# Per-process count of records read, set in each child by `_start` (a shared array
# can only be handed to a process when it starts).
_read: Any = None


@dataclass(frozen=True)
class Share:
    index: int
    count: int

    def owns(self, key: bytes | None) -> bool:
        if key is None:
            # Not admitted anywhere (the key must be the event's key field): one
            # process judges it, so it is logged once.
            return self.index == 0
        return zlib.crc32(key) % self.count == self.index

    def owns_text(self, key: str) -> bool:
        return self.owns(key.encode())

    def report(self, _topic: str, read: int, _total: int) -> None:
        """A replay's progress callback: this process's records read, for the parent."""
        if _read is not None:
            _read[self.index] = read


Work = Callable[..., Coroutine[Any, Any, Any]]


def _start(read: Any) -> None:
    global _read
    _read = read


def _run(work: Work, share: Share, args: tuple[Any, ...]) -> Any:
    return asyncio.run(work(share, *args))


class Shares:
    """`count` spawned processes, kept for the phases of one rebuild."""

    def __init__(self, count: int = PROCESSES) -> None:
        context = multiprocessing.get_context("spawn")
        self.count = count
        self._read = context.Array("q", count, lock=False)
        self._pool: Pool = context.Pool(count, initializer=_start, initargs=(self._read,))

    async def run(
        self, work: Work, *args: Any, progress: Callable[[int], None] | None = None
    ) -> list[Any]:
        """`work(share, *args)` in every process; `progress` is called, as they go, with
        the records read so far by the one furthest behind (each reads the whole topic)."""
        for index in range(self.count):
            self._read[index] = 0
        pending = [
            self._pool.apply_async(_run, (work, Share(index, self.count), args))
            for index in range(self.count)
        ]
        while not all(result.ready() for result in pending):
            await asyncio.sleep(POLL_SECONDS)
            if progress is not None:
                progress(min(self._read))
        if progress is not None:
            progress(min(self._read))
        return [result.get() for result in pending]

    def close(self, *, finished: bool) -> None:
        """Let the processes exit (`finished`), or end them now (a failed or cancelled
        rebuild: nothing they still do is wanted)."""
        if finished:
            self._pool.close()
        else:
            self._pool.terminate()
        self._pool.join()
