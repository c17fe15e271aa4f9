"""The customers port (port.py) in memory, for the unit tests of the services that read it.

It follows the Redis store's rules (tests/customer_store_contract.py holds both to them):
relationships kept as their stored JSON, so a preview judges exactly what Redis would
hand it; a day's memberships become the latest only if no later day is there; a segment
definition is recorded only at a higher offset than the one stored. Expiry of old days is
left out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from services.customers.definitions import SegmentDefinition, SegmentEvent, definition_after
from services.customers.domain.conditions import Condition
from services.customers.domain.cutoff import Cutoff
from services.customers.domain.profile import MessageProfile, Profile
from services.customers.domain.relationship import (
    Relationship,
    from_stored_json,
    to_stored_json,
)
from services.customers.matching import PREVIEW_PAGE, count_page, needs_profiles
from services.customers.store import SCAN_PAGE


@dataclass
class _Day:
    members: dict[str, list[str]]
    sizes: dict[str, int]
    high_value_threshold: float | None


@dataclass
class InMemoryCustomerStore:
    # seller → customer → the relationship's stored JSON
    stored: dict[str, dict[str, bytes]] = field(default_factory=dict)
    stored_profiles: dict[str, Profile] = field(default_factory=dict)
    stored_markets: dict[str, str] = field(default_factory=dict)
    days: dict[tuple[str, date], _Day] = field(default_factory=dict)
    as_of: dict[str, date] = field(default_factory=dict)
    # (seller, segment) → (definition, the offset it was recorded at)
    definitions: dict[tuple[str, str], tuple[SegmentDefinition, int]] = field(default_factory=dict)

    # relationships

    async def load_relationships(
        self, seller_id: str, customer_ids: Sequence[str]
    ) -> dict[str, Relationship]:
        stored = self.stored.get(seller_id, {})
        return {c: from_stored_json(stored[c]) for c in customer_ids if c in stored}

    async def save_relationships(self, changed: Mapping[str, Mapping[str, Relationship]]) -> None:
        for seller_id, rels in changed.items():
            seller = self.stored.setdefault(seller_id, {})
            for customer_id, rel in rels.items():
                seller[customer_id] = to_stored_json(rel)

    async def relationships(
        self, seller_id: str, page: int = SCAN_PAGE
    ) -> AsyncIterator[list[tuple[str, Relationship]]]:
        for chunk in _pages(list(self.stored.get(seller_id, {}).items()), page):
            yield [(c, from_stored_json(raw)) for c, raw in chunk]

    async def customer_count(self, seller_id: str) -> int:
        return len(self.stored.get(seller_id, {}))

    # profiles

    async def profiles(self, customer_ids: Sequence[str]) -> dict[str, Profile]:
        return {c: self.stored_profiles[c] for c in customer_ids if c in self.stored_profiles}

    async def save_profiles(self, profiles: Mapping[str, Profile]) -> None:
        self.stored_profiles.update(profiles)

    async def message_profiles(self, customer_ids: Sequence[str]) -> dict[str, MessageProfile]:
        return {
            c: MessageProfile(language=p.language, name=p.name)
            for c, p in (await self.profiles(customer_ids)).items()
        }

    # markets

    async def set_markets(self, markets: Mapping[str, str]) -> None:
        self.stored_markets.update(markets)

    async def market(self, seller_id: str) -> str | None:
        return self.stored_markets.get(seller_id)

    async def markets_of(self, seller_ids: Sequence[str]) -> dict[str, str | None]:
        return {s: self.stored_markets.get(s) for s in seller_ids}

    # memberships

    async def write_memberships(
        self,
        seller_id: str,
        as_of: date,
        members: Mapping[str, Iterable[str]],
        high_value_threshold: float | None = None,
    ) -> dict[str, int]:
        listed = {segment_id: sorted(set(customers)) for segment_id, customers in members.items()}
        sizes = {segment_id: len(customers) for segment_id, customers in listed.items()}
        self.days[(seller_id, as_of)] = _Day(listed, sizes, high_value_threshold)
        latest = self.as_of.get(seller_id)
        if latest is None or latest < as_of:
            self.as_of[seller_id] = as_of
        return dict(sizes)

    async def latest_as_of(self, seller_id: str) -> date | None:
        return self.as_of.get(seller_id)

    async def has_day(self, seller_id: str, as_of: date) -> bool:
        # Redis keeps no sizes hash for a day without segments: nothing to read either.
        day = self.days.get((seller_id, as_of))
        return day is not None and bool(day.sizes)

    async def sizes(self, seller_id: str) -> tuple[date | None, dict[str, int]]:
        as_of = self.as_of.get(seller_id)
        if as_of is None:
            return None, {}
        day = self.days.get((seller_id, as_of))
        return as_of, dict(day.sizes) if day else {}

    async def members(
        self, seller_id: str, segment_id: str, as_of: date | None = None
    ) -> AsyncIterator[list[str]]:
        on = as_of or self.as_of.get(seller_id)
        day = None if on is None else self.days.get((seller_id, on))
        if day is None:
            return
        for chunk in _pages(day.members.get(segment_id, []), SCAN_PAGE):
            yield chunk

    async def high_value_threshold(self, seller_id: str) -> float | None:
        as_of = self.as_of.get(seller_id)
        day = None if as_of is None else self.days.get((seller_id, as_of))
        return None if day is None else day.high_value_threshold

    async def count_matching(
        self, seller_id: str, conditions: Sequence[Condition], cut: Cutoff
    ) -> int:
        with_profiles = needs_profiles([conditions])
        count = 0
        for page in _pages(list(self.stored.get(seller_id, {}).items()), PREVIEW_PAGE):
            profiles = await self.profiles([c for c, _ in page]) if with_profiles else {}
            count += count_page(seller_id, page, profiles, conditions, cut)
        return count

    # custom segment definitions

    async def apply_segment_event(self, event: SegmentEvent, offset: int) -> bool:
        key = (event.seller_id, event.segment_id)
        current = self.definitions.get(key)
        if current is not None and current[1] >= offset:
            return False
        self.definitions[key] = (definition_after(event, current and current[0]), offset)
        return True

    async def segment(self, seller_id: str, segment_id: str) -> SegmentDefinition | None:
        found = self.definitions.get((seller_id, segment_id))
        return None if found is None or found[0].deleted else found[0]

    async def segment_known(self, seller_id: str, segment_id: str) -> bool:
        return (seller_id, segment_id) in self.definitions

    async def live_segments(self, seller_id: str) -> list[SegmentDefinition]:
        live = [
            d for (s, _), (d, _) in self.definitions.items() if s == seller_id and not d.deleted
        ]
        return sorted(live, key=lambda d: (d.defined_at, d.segment_id))


T = TypeVar("T")


def _pages(items: list[T], size: int) -> list[list[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
