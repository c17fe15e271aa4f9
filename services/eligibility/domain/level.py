"""Broadcast performance and the level table (SPEC section 4)."""

from __future__ import annotations

from schemas.seller import Performance
from services.eligibility.domain.trusted import trusted
from services.policy.domain import LevelRow, LevelRules


def performance(delivered: int, read: int, blocked: int) -> Performance:
    # Read and block counts can exceed deliveries in a window (a message delivered on
    # the 21st and read on the 22nd); rates are capped at 1 rather than refused.
    read_rate = min(1.0, read / delivered) if delivered else 0.0
    block_rate = min(1.0, blocked / delivered) if delivered else 0.0
    return trusted(  # counts of sets, rates in [0, 1] (domain/trusted.py)
        Performance,
        delivered=delivered,
        read=read,
        blocked=blocked,
        read_rate=read_rate,
        block_rate=block_rate,
    )


def _bounds(row: LevelRow, perf: Performance) -> list[bool]:
    """Whether each bound the row sets holds (bounds it leaves out are not listed)."""
    held = []
    if row.read_rate_at_least is not None:
        held.append(perf.read_rate >= row.read_rate_at_least)
    if row.read_rate_below is not None:
        held.append(perf.read_rate < row.read_rate_below)
    if row.block_rate_at_least is not None:
        held.append(perf.block_rate >= row.block_rate_at_least)
    if row.block_rate_below is not None:
        held.append(perf.block_rate < row.block_rate_below)
    return held


def _matches(row: LevelRow, perf: Performance) -> bool:
    held = _bounds(row, perf)
    if not held:
        return True
    return all(held) if row.match == "all" else any(held)


def level_for(rules: LevelRules, perf: Performance, previous: int | None) -> int:
    """The level the table gives, or the previous one when there is too little data."""
    if perf.delivered < rules.min_delivered:
        return previous if previous is not None else rules.new_seller_level
    for row in rules.rows:
        if _matches(row, perf):
            return row.level
    raise AssertionError("unreachable: the policy's last row matches everything")
