"""The order a one-time plan's recipients are handled in, so a fan-out resumes exactly.

Members are handled in customer-id order and a checkpoint is the last id handled: a
restart skips every id up to it, whatever order Redis returns the set in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def still_to_handle(members: Iterable[str], after: str | None) -> list[str]:
    """The members after the checkpoint, in id order, each once."""
    ordered = sorted(set(members))
    if after is None:
        return ordered
    return [m for m in ordered if m > after]


def chunked(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
