"""Where the session's Kafka and Redis come from, in this order:

1. CRM_KAFKA_BOOTSTRAP / CRM_REDIS_URL, when set: servers someone already runs;
2. testcontainers, when a Docker engine answers;
3. the project's own deploy/ scripts, started on loopback (and stopped at the
   end of the session if this session started them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KAFKA_IMAGE = "apache/kafka:4.1.1"
REDIS_IMAGE = "redis:7.0"


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _script(component: str, action: str) -> subprocess.CompletedProcess[str]:
    script = DEPLOY / component / f"{component}.sh"
    return subprocess.run([str(script), action], capture_output=True, text=True, timeout=600)


@contextmanager
def local_process(component: str) -> Iterator[None]:
    was_running = _script(component, "status").returncode == 0
    started = _script(component, "start")
    if started.returncode != 0:
        raise RuntimeError(f"deploy/{component} failed to start:\n{started.stderr}")
    try:
        yield
    finally:
        if not was_running:
            _script(component, "stop")


@contextmanager
def kafka_bootstrap() -> Iterator[str]:
    if os.environ.get("CRM_KAFKA_BOOTSTRAP"):
        yield os.environ["CRM_KAFKA_BOOTSTRAP"]
    elif docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
    else:
        with local_process("kafka"):
            yield "localhost:9092"


@contextmanager
def redis_url() -> Iterator[str]:
    if os.environ.get("CRM_REDIS_URL"):
        yield os.environ["CRM_REDIS_URL"]
    elif docker_answers():
        from testcontainers.redis import RedisContainer

        with RedisContainer(REDIS_IMAGE) as redis:
            host, port = redis.get_container_host_ip(), redis.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
    else:
        with local_process("redis"):
            yield "redis://localhost:6379/0"
