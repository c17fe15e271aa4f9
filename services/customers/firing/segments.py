"""What the firing engine needs to judge a plan's segment for one seller's due pairs:
the seller's market (its calendar), each segment's rule (a custom segment's conditions,
the latest high_value threshold) and, only when a condition reads one, the customers'
profiles. The judging itself is `domain.firing_segment`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas.markets import MARKET_TIME_ZONES
from services.customers.definitions import SegmentDefinitions
from services.customers.domain.condition_fields import FIELD_KINDS
from services.customers.domain.firing_segment import FiringSegment
from services.customers.domain.profile import Profile
from services.customers.domain.segments import BUILTIN_SEGMENT_IDS
from services.customers.store import RedisCustomerStore


@dataclass(frozen=True)
class SellerSegments:
    market: str | None
    """None while the seller's market is not known: nothing can be judged yet."""
    segments: dict[str, FiringSegment] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)


async def seller_segments(
    store: RedisCustomerStore,
    definitions: SegmentDefinitions,
    seller_id: str,
    segment_ids: Iterable[str],
    customer_ids: list[str],
) -> SellerSegments:
    market = await store.market(seller_id)
    if market not in MARKET_TIME_ZONES:
        return SellerSegments(market=None)
    segments: dict[str, FiringSegment] = {}
    for segment_id in sorted(set(segment_ids)):
        if segment_id == "high_value_customers":
            threshold = await store.high_value_threshold(seller_id)
            segments[segment_id] = FiringSegment(
                segment_id=segment_id, high_value_threshold=threshold
            )
        elif segment_id in BUILTIN_SEGMENT_IDS:
            segments[segment_id] = FiringSegment(segment_id=segment_id)
        else:
            definition = await definitions.get(seller_id, segment_id)
            conditions = None if definition is None else definition.domain_conditions()
            segments[segment_id] = FiringSegment.custom(segment_id, conditions)
    reads_profiles = any(
        FIELD_KINDS[c.field] == "attribute" for s in segments.values() for c in s.conditions
    )
    profiles = await store.profiles(customer_ids) if reads_profiles else {}
    return SellerSegments(market=market, segments=segments, profiles=profiles)
