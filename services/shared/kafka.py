"""Thin factories over aiokafka, so every service talks to Kafka the same way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    TopicAlreadyExistsError,
    for_code,
)

from schemas.topics import ALL_TOPICS, TopicSpec, topic
from services.shared.settings import Settings

T = TypeVar("T")
log = structlog.get_logger(__name__)


def new_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "max_request_size": 2 * 1024 * 1024,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def new_consumer(settings: Settings, *topics: str, **overrides: Any) -> AIOKafkaConsumer:
    """A consumer of registry topics (names are prefixed here)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,
        "isolation_level": "read_committed",
    }
    options.update(overrides)
    return AIOKafkaConsumer(*(settings.topic(t) for t in topics), **options)


@asynccontextmanager
async def admin_client(settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


def topic_configs(spec: TopicSpec) -> dict[str, str]:
    configs = {"cleanup.policy": spec.cleanup_policy, "retention.ms": str(spec.retention_ms)}
    if spec.cleanup_policy == "compact":
        # Compacted topics keep the latest value per key forever; retention only
        # bounds tombstones and the uncompacted head.
        configs.pop("retention.ms")
    return configs


async def create_topics(
    settings: Settings, names: Iterable[str] | None = None, *, partitions: int | None = None
) -> list[str]:
    """Create the registry topics that do not exist yet; return the ones created."""
    specs = list(ALL_TOPICS) if names is None else [topic(n) for n in names]
    async with admin_client(settings) as client:
        existing = set(await client.list_topics())
        wanted = [s for s in specs if settings.topic(s.name) not in existing]
        created: list[str] = []
        for spec in wanted:
            new = NewTopic(
                settings.topic(spec.name),
                partitions or spec.partitions,
                settings.kafka_replication_factor,
                topic_configs=topic_configs(spec),
            )
            try:
                response = await client.create_topics([new])
            except TopicAlreadyExistsError:
                continue  # another process won the race; the topic is there, which is all we need
            # aiokafka reports per-topic failures in the response instead of raising them.
            # A listing just after a creation may still miss that topic, so "already
            # exists" is common and is not a creation.
            for _name, code, *message in response.topic_errors:
                if code == TopicAlreadyExistsError.errno:
                    break
                if code:
                    raise for_code(code)(f"creating {new.name}: {message}")
            else:
                created.append(spec.name)
        await _until_described(client, [settings.topic(name) for name in created])
        return created


async def _until_described(client: AIOKafkaAdminClient, names: list[str]) -> None:
    # The controller answers a creation before every broker's metadata has the topic's
    # partitions; a caller that produces or describes at once would see none.
    for _ in range(100):
        if not names:
            return
        described = await client.describe_topics(names)
        names = [t["topic"] for t in described if t.get("error_code") or not t["partitions"]]
        if names:
            await asyncio.sleep(0.05)


async def _missing(client: AIOKafkaAdminClient, physical: list[str]) -> list[str]:
    """The topics the cluster's metadata does not describe with partitions yet."""
    described = {t["topic"]: t for t in await client.describe_topics(physical)}
    return [
        name
        for name in physical
        if name not in described
        or described[name].get("error_code")
        or not described[name]["partitions"]
    ]


async def ensure_topics(
    settings: Settings,
    names: Iterable[str],
    *,
    service: str,
    poll_seconds: float = 0.5,
    log_every_seconds: float = 10.0,
) -> None:
    """Before a worker consumes: create the registry topics it reads or writes that do not
    exist yet, then wait until the cluster's metadata describes every one of them.

    Why: a consumer subscribed to a topic the broker does not know finds it only at its
    next metadata refresh (metadata.max.age.ms, 5 minutes), and reads nothing until
    then. Waiting here makes a worker's start independent of who created what when."""
    wanted = list(dict.fromkeys(names))
    await wait_for_kafka(settings)
    created = await retrying(lambda: create_topics(settings, wanted))
    if created:
        log.info("topics_created", service=service, topics=created)
    physical = [settings.topic(name) for name in wanted]
    loop = asyncio.get_running_loop()
    last_logged = float("-inf")
    async with admin_client(settings) as client:
        while missing := await retrying(lambda: _missing(client, physical)):
            if loop.time() - last_logged >= log_every_seconds:
                log.warning(
                    "waiting_for_topics",
                    service=service,
                    missing=[settings.logical_topic(name) for name in missing],
                    hint="not in the cluster's metadata yet; `crm topics create` makes them",
                )
                last_logged = loop.time()
            await asyncio.sleep(poll_seconds)
    log.info("topics_ready", service=service, topics=len(wanted))


async def delete_topics(settings: Settings, names: Iterable[str]) -> None:
    async with admin_client(settings) as client:
        existing = set(await client.list_topics())
        doomed = [settings.topic(n) for n in names if settings.topic(n) in existing]
        if doomed:
            await client.delete_topics(doomed)


async def retrying(
    call: Callable[[], Awaitable[T]], *, attempts: int = 20, delay: float = 0.5
) -> T:
    """Retry an admin call on errors Kafka marks retriable (a coordinator still
    loading on a fresh broker, a leader moving), then give up with the last one."""
    for attempt in range(attempts):
        try:
            return await call()
        except KafkaError as exc:
            if not exc.retriable or attempt == attempts - 1:
                raise
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def wait_for_kafka(settings: Settings, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            async with admin_client(settings) as client:
                await client.list_topics()
                return
        except (KafkaConnectionError, KafkaError, OSError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def delete_prefixed_topics(settings: Settings) -> list[str]:
    """Delete every topic under the settings' prefix (a test's or a benchmark's own,
    including those a faust app declared: changelogs, internal topics)."""
    if not settings.topic_prefix:
        raise ValueError("refusing to delete every topic: no topic prefix set")
    async with admin_client(settings) as client:
        mine = [t for t in await client.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            await client.delete_topics(mine)
    return mine
