"""The order a one-time plan's recipients are handled in, so a fan-out resumes exactly.

Members are handled in customer-id order and a checkpoint is the last id handled: a
restart skips every id up to it, whatever order Redis returns the set in.
"""

from __future__ import annotations

import zlib
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from operator import eq


def still_to_handle(members: Iterable[str], after: str | None) -> list[str]:
    """The members after the checkpoint, in id order, each once."""
    ordered = sorted(members)
    if after is not None:
        ordered = ordered[bisect_right(ordered, after) :]
    # A repeat sorts next to its first: dropping adjacent repeats is cheaper than a set
    # of a million ids, and finding there are none (most reads) cheaper still.
    if not any(map(eq, ordered, islice(ordered, 1, None))):
        return ordered
    return [
        m for m, previous in zip(ordered, chain((None,), ordered), strict=False) if m != previous
    ]


def chunked(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def shard_of(customer_id: str, count: int) -> int:
    """The shard a customer belongs to: stable across processes and restarts (crc32, not
    Python's salted hash), and cheap for a million ids."""
    return zlib.crc32(customer_id.encode()) % count


def in_shard(members: Iterable[str], shard: int, count: int) -> list[str]:
    return [m for m in members if zlib.crc32(m.encode()) % count == shard]
