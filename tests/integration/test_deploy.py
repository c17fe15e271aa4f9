"""The deploy/ scripts: start twice does no harm, jars come from the cache, Redis has AOF."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import redis.asyncio as aioredis

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("CRM_KAFKA_BOOTSTRAP") or os.environ.get("CRM_REDIS_URL")),
    reason="this session uses servers given by CRM_* variables, not the deploy/ scripts",
)


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEPLOY / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        env=env or os.environ.copy(),
    )


def test_starting_a_running_stack_again_is_harmless(kafka_bootstrap: str, redis_url: str) -> None:
    before = _run("stack.sh", "status")
    assert before.returncode == 0, before.stdout + before.stderr
    again = _run("stack.sh", "up")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stderr
    assert _run("stack.sh", "status").stdout == before.stdout  # same pids, same places


def test_a_second_fetch_uses_the_cached_jars_without_maven(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # A booby-trapped mvn first on the PATH: only a cache hit can succeed.
    trap = tmp_path / "mvn"
    trap.write_text("#!/bin/sh\necho 'mvn was called' >&2\nexit 97\n")
    trap.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    result = _run("kafka/kafka.sh", "fetch", env=env)
    assert result.returncode == 0, result.stderr
    assert "mvn was called" not in result.stderr
    assert "using cached Kafka" in result.stderr


async def test_redis_runs_with_aof_on_loopback(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        assert (await client.config_get("appendonly"))["appendonly"] == "yes"
        assert (await client.config_get("bind"))["bind"].startswith("127.0.0.1")
    finally:
        await client.aclose()
