"""The topic registry agrees with SPEC section 6 and with the event classes."""

from collections import Counter
from typing import get_args
from zoneinfo import ZoneInfo

import pytest

import schemas.campaigns
import schemas.customer
import schemas.dead_letter
import schemas.delivery
import schemas.engagement
import schemas.outbound
import schemas.plans
import schemas.quota
import schemas.segments
import schemas.seller
from schemas.envelope import Event
from schemas.markets import MARKET_TIME_ZONES, Market
from schemas.topics import (
    ALL_TOPICS,
    EVENT_TOPICS,
    INTERNAL_TOPICS,
    KEYED_PARTITIONS,
    AnyEvent,
    adapter_for,
    event_classes,
    topic,
    topic_of,
)

pytestmark = pytest.mark.unit

EVENT_MODULES = (
    schemas.campaigns,
    schemas.customer,
    schemas.dead_letter,
    schemas.delivery,
    schemas.engagement,
    schemas.outbound,
    schemas.plans,
    schemas.quota,
    schemas.segments,
    schemas.seller,
)
SPEC_TOPICS = {
    "crm.seller-metrics": ("in", "seller_id"),
    "crm.chat-engagement": ("in", "seller_id"),
    "crm.shop-blocks": ("in", "seller_id"),
    "crm.customer-activity": ("in", "seller_id"),
    "crm.customer-profiles": ("in", "customer_id"),
    "crm.seller-accounts": ("in", "seller_id"),
    "crm.campaigns": ("in", "campaign_id"),
    "crm.evaluation-ticks": ("in", "market"),
    "crm.appeals": ("in", "seller_id"),
    "crm.seller-status": ("out", "seller_id"),
    "crm.plan-commands": ("internal", "seller_id"),
    "crm.plan-events": ("out", "seller_id"),
    "crm.quota-ledger": ("out", "seller_id"),
    "crm.outbound-messages": ("out", "customer_id"),
    "crm.dead-letters": ("out", None),
}
# Beyond SPEC section 6, each recorded in the README.
EXTRA_TOPICS = {
    "crm.plan-replies": ("internal", "seller_id"),
    "crm.segments": ("internal", "seller_id"),
    "crm.plan-firings": ("internal", "seller_id"),
    "crm.delivery-progress": ("internal", "plan_id"),
    "crm.delivery-shards": ("internal", "plan_id"),
    "crm.dead-letter-redrives": ("internal", "dead_letter_id"),
}
# The eligibility worker's own topics: its per-partition commands and its state changelog.
INTERNAL_TOPIC_NAMES = {"crm.eligibility-evaluations", "crm.eligibility-state"}


def _defined_event_classes() -> set[type[Event]]:
    """Public Event subclasses defined in the event modules."""
    return {
        value
        for module in EVENT_MODULES
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, Event)
        and value is not Event
        and not name.startswith("_")
        and value.__module__ == module.__name__
    }


def test_topics_are_those_of_the_spec() -> None:
    expected = SPEC_TOPICS | EXTRA_TOPICS
    assert {spec.name: (spec.direction, spec.key_field) for spec in EVENT_TOPICS} == expected
    assert len(EVENT_TOPICS) == len(expected)


def test_every_topic_is_registered_once_internal_topics_included() -> None:
    assert {spec.name for spec in INTERNAL_TOPICS} == INTERNAL_TOPIC_NAMES
    assert {spec.direction for spec in INTERNAL_TOPICS} == {"internal"}
    assert topic("crm.eligibility-state").cleanup_policy == "compact"
    assert ALL_TOPICS == EVENT_TOPICS + INTERNAL_TOPICS
    assert len({spec.name for spec in ALL_TOPICS}) == len(ALL_TOPICS)


def test_every_event_class_is_on_exactly_one_topic() -> None:
    placements = Counter(cls for spec in ALL_TOPICS for cls in spec.event_types)

    assert set(placements) == _defined_event_classes()
    assert [cls.__name__ for cls, count in placements.items() if count != 1] == []


def test_every_event_topic_has_events_and_faust_topics_none() -> None:
    empty = {spec.name for spec in ALL_TOPICS if not spec.event_types}

    assert empty == INTERNAL_TOPIC_NAMES


def test_event_type_literals_are_unique_and_name_their_class() -> None:
    literals = {
        cls: get_args(cls.model_fields["event_type"].annotation) for cls in _defined_event_classes()
    }

    for cls, literal in literals.items():
        assert literal == (cls.__name__,), cls
        assert cls.model_fields["event_type"].default == cls.__name__
    assert len({literal for literal in literals.values()}) == len(literals)


def test_any_event_covers_every_event_class() -> None:
    members = set(get_args(get_args(AnyEvent)[0]))

    assert members == set(event_classes().values()) == _defined_event_classes()


def test_every_event_carries_its_topics_key_field_as_a_required_field() -> None:
    for spec in ALL_TOPICS:
        for cls in spec.event_types:
            if spec.key_field is not None:
                assert cls.model_fields[spec.key_field].is_required(), (spec.name, cls)


def test_layout_and_retention() -> None:
    compacted = {spec.name for spec in ALL_TOPICS if spec.cleanup_policy == "compact"}
    kept_forever = {spec.name for spec in ALL_TOPICS if spec.retention_ms == -1}

    changelogs = {"crm.eligibility-state"}
    assert (
        compacted
        == {
            "crm.customer-profiles",
            "crm.seller-status",
            "crm.delivery-progress",
            "crm.dead-letter-redrives",
        }
        | changelogs
    )
    assert {"crm.seller-status", "crm.quota-ledger"} <= kept_forever
    assert {spec.name for spec in ALL_TOPICS if spec.direction == "in"} <= kept_forever
    assert topic("crm.outbound-messages").retention_ms == 90 * 24 * 3600 * 1000
    assert topic("crm.dead-letters").retention_ms == 30 * 24 * 3600 * 1000
    assert topic("crm.evaluation-ticks").partitions == 1


def test_topics_keyed_by_seller_are_co_partitioned() -> None:
    # The eligibility state of a partition is fed from several of these topics.
    counts = {spec.partitions for spec in ALL_TOPICS if spec.key_field == "seller_id"}
    changelogs = {spec.partitions for spec in INTERNAL_TOPICS}

    assert counts == changelogs == {KEYED_PARTITIONS}


def test_lookups_name_what_is_unknown() -> None:
    with pytest.raises(KeyError, match=r"unknown topic 'crm\.nope'; known topics: crm\."):
        topic("crm.nope")
    with pytest.raises(KeyError, match="unknown event type 'Nope'"):
        topic_of("Nope")
    with pytest.raises(KeyError, match="unknown topic"):
        adapter_for("crm.plan-things")


def test_topic_of_finds_the_topic_of_an_event_type() -> None:
    assert topic_of("MessageRead").name == "crm.chat-engagement"
    assert topic_of("DeadLetter").key_field is None


def test_markets_have_real_time_zones() -> None:
    assert set(MARKET_TIME_ZONES) == set(get_args(Market))
    for zone in MARKET_TIME_ZONES.values():
        ZoneInfo(zone)
