"""Judging stored relationships against a segment's conditions, page by page: shared by
the recompute (every segment of a seller) and the preview (one custom segment's size,
asked on demand by the API)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import Protocol

import structlog
from pydantic import ValidationError

from services.customers.domain.condition_fields import FIELD_KINDS
from services.customers.domain.conditions import Condition, matches_at
from services.customers.domain.cutoff import Cutoff
from services.customers.domain.profile import Profile
from services.customers.domain.relationship import EMPTY, Relationship, from_stored_json
from services.customers.segment_metrics import UNDECODABLE

log = structlog.get_logger(__name__)


class StoredPages(Protocol):
    """What a preview reads: a seller's stored relationships in pages, and profiles."""

    def scan_raw(
        self, seller_id: str, page: int = ...
    ) -> AsyncIterator[list[tuple[str, bytes]]]: ...

    async def profiles(self, customer_ids: Sequence[str]) -> dict[str, Profile]: ...


def needs_profiles(segments: Iterable[Sequence[Condition]]) -> bool:
    """Profiles are read only for attribute conditions (region, city, gender, ...)."""
    return any(FIELD_KINDS[c.field] == "attribute" for conditions in segments for c in conditions)


def decoded(seller_id: str, page: list[tuple[str, bytes]]) -> Iterator[tuple[str, Relationship]]:
    """The page's relationships, decoded one at a time as they are judged: each dies
    young, so the garbage collector never walks a page's worth of models (holding whole
    decoded pages cost a third of a recompute in full collections). An entry that does
    not decode is logged and left out."""
    for customer_id, raw in page:
        try:
            rel = from_stored_json(raw)
        except ValidationError as exc:
            UNDECODABLE.inc()
            log.error(
                "relationship_undecodable",
                seller_id=seller_id,
                customer_id=customer_id,
                error=str(exc).splitlines()[0],
            )
            continue
        yield customer_id, rel


PREVIEW_PAGE = 1000
"""Smaller pages than the recompute's: a preview runs inside an API request, and each page
is judged without yielding the event loop."""


async def count_matching(
    store: StoredPages, seller_id: str, conditions: Sequence[Condition], cut: Cutoff
) -> int:
    """How many of the seller's customers meet every condition as of the cut-off: a
    custom segment's size computed on demand (the preview), by the recompute's rule."""
    with_profiles = needs_profiles([conditions])
    count = 0
    async for page in store.scan_raw(seller_id, PREVIEW_PAGE):
        profiles = (
            await store.profiles([customer_id for customer_id, _ in page]) if with_profiles else {}
        )
        count += count_page(seller_id, page, profiles, conditions, cut)
    return count


def count_page(
    seller_id: str,
    page: list[tuple[str, bytes]],
    profiles: Mapping[str, Profile],
    conditions: Sequence[Condition],
    cut: Cutoff,
) -> int:
    """The customers of one page meeting every condition (`matches_at`).

    Conditions on profile attributes are asked first, of the profile alone: the AND fails
    whatever the relationship says when one of them does, and those customers' stored
    relationships are then never decoded (most of a preview's time). An attribute's
    measure reads only the profile, so asking them over the empty relationship is the same
    question; tests/unit/customers/test_preview.py checks the count equals `matches_at`.
    """
    on_profile = [c for c in conditions if FIELD_KINDS[c.field] == "attribute"]
    count = 0
    for customer_id, raw in page:
        profile = profiles.get(customer_id)
        if on_profile and not matches_at(on_profile, EMPTY, profile, cut):
            continue
        for _, rel in decoded(seller_id, [(customer_id, raw)]):
            if matches_at(conditions, rel, profile, cut):
                count += 1
    return count
