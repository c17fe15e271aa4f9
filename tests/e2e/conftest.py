"""The e2e tests use the integration tests' session broker, Redis and per-test prefixes."""

from tests.integration.conftest import (
    group_id,
    kafka_bootstrap,
    redis_client,
    redis_url,
    settings,
    test_id,
    topics,
)

__all__ = [
    "group_id",
    "kafka_bootstrap",
    "redis_client",
    "redis_url",
    "settings",
    "test_id",
    "topics",
]
