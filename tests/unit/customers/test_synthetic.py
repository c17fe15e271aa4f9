"""The synthetic shop the demo and benchmarks publish gives every built-in segment members."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from demo.synthetic_shop import synthetic_shop
from services.customers.domain.relationship import EMPTY, RelationshipEvent, evolve
from services.customers.domain.segments import BUILTIN_SEGMENT_IDS, memberships

NOW = datetime(2024, 7, 3, 5, 0, tzinfo=UTC)


def test_every_builtin_segment_has_members_and_the_history_is_deterministic() -> None:
    events = list(synthetic_shop("s1", 1000, NOW))
    assert events == list(synthetic_shop("s1", 1000, NOW))
    rels = defaultdict(lambda: EMPTY)
    for topic, event in events:
        if topic == "crm.customer-activity":
            assert isinstance(event, RelationshipEvent)
            rels[event.customer_id] = evolve(rels[event.customer_id], event)
        assert event.occurred_at < NOW

    members = memberships(rels.items(), NOW.date(), "ID")

    sizes = {segment: len(members[segment]) for segment in BUILTIN_SEGMENT_IDS}
    assert all(size > 0 for size in sizes.values()), sizes
    assert sizes["high_value_customers"] <= len(rels) // 10 + 1


def test_two_shops_share_no_event_id() -> None:
    # Consumers de-duplicate on event_id: a shared id would refuse the second shop.
    first = {event.event_id for _, event in synthetic_shop("s1", 200, NOW)}
    second = {event.event_id for _, event in synthetic_shop("s2", 200, NOW)}

    assert len(first) > 200
    assert len(second) > 200
    assert first.isdisjoint(second)
