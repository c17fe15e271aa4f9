"""What the projection hands on after it has written a batch: each folded event with the
relationship it produced, so the trigger engine can arm automated plans without reading
Redis again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from services.customers.domain.relationship import Relationship, RelationshipEvent


@dataclass(frozen=True)
class Applied:
    seller_id: str
    customer_id: str
    event: RelationshipEvent
    relationship: Relationship
    """The pair's relationship after the whole batch was folded (as now stored)."""


Observer = Callable[[Sequence[Applied]], Awaitable[None]]
