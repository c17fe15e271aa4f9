"""`crm topics create` creates every registry topic once, with the registry's settings."""

from __future__ import annotations

from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from schemas.topics import ALL_TOPICS, topic
from services.shared.kafka import admin_client, create_topics, delete_topics, ensure_topics
from services.shared.settings import Settings


async def test_create_all_topics_is_idempotent(settings: Settings) -> None:
    try:
        first = await create_topics(settings)
        second = await create_topics(settings)
        assert sorted(first) == sorted(spec.name for spec in ALL_TOPICS)
        assert second == []
        async with admin_client(settings) as client:
            described = {
                t["topic"]: len(t["partitions"])
                for t in await client.describe_topics([settings.topic(s.name) for s in ALL_TOPICS])
            }
            resources = [
                ConfigResource(ConfigResourceType.TOPIC, settings.topic(s.name)) for s in ALL_TOPICS
            ]
            configs = await client.describe_configs(resources)
        for spec in ALL_TOPICS:
            assert described[settings.topic(spec.name)] == spec.partitions
        policies = {}
        for response in configs:
            for resource in response.resources:
                _err, _msg, _type, name, entries = resource[:5]
                values = {e[0]: e[1] for e in entries}
                policies[settings.logical_topic(name)] = values["cleanup.policy"]
        assert policies == {spec.name: spec.cleanup_policy for spec in ALL_TOPICS}
    finally:
        await delete_topics(settings, [s.name for s in ALL_TOPICS])


async def test_ensure_topics_creates_the_missing_ones_and_returns_once_all_are_described(
    settings: Settings,
) -> None:
    names = ["crm.appeals", "crm.eligibility-evaluations", "crm.eligibility-state"]
    try:
        await create_topics(settings, names[:1])
        await ensure_topics(settings, names, service="test")
        async with admin_client(settings) as client:
            described = {
                settings.logical_topic(t["topic"]): len(t["partitions"])
                for t in await client.describe_topics([settings.topic(n) for n in names])
                if not t["error_code"]
            }
        assert described == {name: topic(name).partitions for name in names}
        # Again, with everything there: nothing to create, nothing to wait for.
        await ensure_topics(settings, names, service="test")
    finally:
        await delete_topics(settings, names)
