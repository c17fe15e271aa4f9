"""Every topic the eligibility faust app consumes or declares is in the topic registry, laid
out as faust would declare it, so `crm dev up` and the worker create it before faust starts
(a topic created after faust's consumer subscribed is seen only 5 minutes later)."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.topics import topic
from services.eligibility.app import TOPICS, build_app
from services.eligibility.config import EligibilitySettings
from services.shared.settings import Settings

pytestmark = pytest.mark.unit

SETTINGS = Settings(topic_prefix="tunit.")


@pytest.fixture(scope="module")
def app() -> Any:
    return build_app(SETTINGS, EligibilitySettings(store="memory://", scheduler=True)).app


def _registered(physical: str) -> str:
    name = SETTINGS.logical_topic(physical)
    assert name in TOPICS, f"{physical} is not among the worker's TOPICS"
    return name


def test_every_consumed_topic_is_one_the_worker_creates(app: Any) -> None:
    consumed = {agent.channel.get_topic_name() for agent in app.agents.values()}
    consumed.add(app._leader_assignor._leader_topic_name)

    assert len(consumed) == 7
    for physical in consumed:
        _registered(physical)


def test_internal_topics_are_registered_as_faust_declares_them(app: Any) -> None:
    internal = [agent.channel for agent in app.agents.values() if agent.channel.internal]
    internal += [table.changelog_topic for table in app.tables.values()]

    assert len(internal) == 4
    for channel in internal:
        spec = topic(_registered(channel.get_topic_name()))
        assert spec.partitions == channel.partitions
        assert spec.cleanup_policy == ("compact" if channel.compacting else "delete")


def test_the_leader_topic_has_one_partition(app: Any) -> None:
    assert topic(_registered(app._leader_assignor._leader_topic_name)).partitions == 1
