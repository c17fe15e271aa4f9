"""Configuration from CRM_* environment variables (SPEC section 8)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Documented in the README; accepted only when CRM_ENV=development.
DEV_JWT_SECRET = "crm-dev-secret-not-for-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", frozen=True, extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    kafka_bootstrap: str = "localhost:9092"
    redis_url: str = "redis://localhost:6379/0"
    api_port: int = 8080
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    # Prepended to every topic name: tests and parallel demos share one broker.
    topic_prefix: str = ""
    # Replicas of each topic `crm topics create` makes: 3 on deploy/kafka/cluster.sh.
    kafka_replication_factor: int = 1
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    # Upper bound for one event on the wire; larger records are dead-lettered.
    max_event_bytes: int = 64 * 1024
    # Port of a worker's /healthz, /readyz and /metrics (0 picks a free one).
    ops_port: int = 9100
    # `crm dev up` gives each worker this plus its offset (eligibility 1 … customers 5).
    ops_port_base: int = 9100
    # Interface they listen on: loopback unless a deployment opens them (0.0.0.0 for a
    # Prometheus or probe on another host).
    ops_host: str = "127.0.0.1"
    # Recipients per delivery transaction: a crash redoes at most one chunk, and each
    # transaction costs ~30 ms however large it is.
    delivery_chunk_size: int = 40_000
    # A dispatched plan with more members than this is split into shards (one per
    # partition of crm.delivery-shards, at most `delivery_shards` when set), fanned out
    # side by side by the partitions' owners; smaller plans (about 2 s of one process's
    # fan-out) go out whole, saving the shards' transactions and completions.
    delivery_shard_threshold: int = 100_000
    delivery_shards: int = 0
    # Bad input (README "Bad input and dead letters"): times before the floor, or more
    # than the tolerance after their record's Kafka timestamp, are dead-lettered.
    time_floor: date = date(2000, 1, 1)
    future_tolerance_seconds: float = 24 * 60 * 60
    # A handler failing on a record is tried this many times in all, then dead-lettered.
    handler_attempts: int = 5
    # How long a consumer group remembers an event_id it applied (its content hash).
    dedup_window_seconds: int = 24 * 60 * 60
    # The policy book every service decides with (default: services/policy/default.toml).
    policy: Path | None = None

    @model_validator(mode="after")
    def _secret_outside_development(self) -> Settings:
        if self.env != "development" and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
            raise ValueError("CRM_JWT_SECRET must be set outside development (CRM_ENV)")
        return self

    def topic(self, name: str) -> str:
        """The physical topic for a registry name such as 'crm.seller-metrics'."""
        return f"{self.topic_prefix}{name}"

    def logical_topic(self, physical: str) -> str:
        if self.topic_prefix and physical.startswith(self.topic_prefix):
            return physical[len(self.topic_prefix) :]
        return physical


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
