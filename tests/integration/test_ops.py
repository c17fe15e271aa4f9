"""/healthz, /readyz and /metrics answer as an orchestrator and Prometheus expect."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from services.shared.checks import kafka_check, redis_check
from services.shared.metrics import DEAD_LETTERS
from services.shared.ops import Health, start_ops_server
from services.shared.serving import serving_ops
from services.shared.settings import Settings


async def test_ops_endpoints(settings: Settings, redis_url: str) -> None:
    real = settings.model_copy(update={"redis_url": redis_url})
    health = Health("test")
    health.add_check("kafka", kafka_check(real))
    health.add_check("redis", redis_check(real))
    DEAD_LETTERS.labels("test-ops", "crm.seller-metrics").inc()
    runner, port = await start_ops_server(health, "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/healthz")).json()["status"] == "ok"
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"kafka": True, "redis": True}
            metrics = (await client.get("/metrics")).text
            assert (
                'crm_dead_letters_total{service="test-ops",topic="crm.seller-metrics"} 1.0'
                in metrics
            )

            down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
            health.add_check("redis", redis_check(down))
            not_ready = await client.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["checks"] == {"kafka": True, "redis": False}
    finally:
        await runner.cleanup()


def _listening_hosts(port: int) -> set[str]:
    """The IPv4 addresses listening on `port`, from the kernel's socket table."""
    hosts = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            hosts.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return hosts


async def test_worker_ops_listen_on_loopback_unless_configured(settings: Settings) -> None:
    async with serving_ops("test-ops", settings.model_copy(update={"ops_port": 0})) as port:
        assert _listening_hosts(port) == {"127.0.0.1"}
    opened = settings.model_copy(update={"ops_port": 0, "ops_host": "0.0.0.0"})
    async with serving_ops("test-ops", opened) as port:
        assert _listening_hosts(port) == {"0.0.0.0"}
