"""Every topic the eligibility worker consumes is one it creates before it subscribes
(a topic created after the consumer subscribed is seen only 5 minutes later), and the
command topic is co-partitioned with the inputs, as the per-partition ticks need."""

from __future__ import annotations

import pytest

from schemas.topics import topic
from services.eligibility.processor import INPUTS, TICKS
from services.eligibility.topics import EVALUATIONS, PARTITIONS, STATE, TOPICS

pytestmark = pytest.mark.unit


def test_every_consumed_topic_is_one_the_worker_creates() -> None:
    consumed = {*INPUTS, EVALUATIONS, TICKS}
    assert len(consumed) == 6
    assert consumed <= set(TOPICS)


def test_every_topic_written_is_one_the_worker_creates_its_changelog_included() -> None:
    written = {"crm.seller-status", "crm.dead-letters", EVALUATIONS, STATE, "crm.evaluation-ticks"}
    assert written <= set(TOPICS)
    # Every one is in the registry, so `crm dev up` creates it too.
    assert all(topic(name).name == name for name in TOPICS)
    assert topic(STATE).cleanup_policy == "compact"


def test_the_evaluation_commands_are_co_partitioned_with_the_inputs() -> None:
    assert topic(EVALUATIONS).partitions == PARTITIONS
    assert topic(STATE).partitions == PARTITIONS
    assert {topic(name).partitions for name in INPUTS} == {PARTITIONS}
    assert topic(TICKS).partitions == 1
