"""/healthz, /readyz and /metrics answer as an orchestrator and Prometheus expect."""

from __future__ import annotations

import httpx

from services.shared.checks import kafka_check, redis_check
from services.shared.metrics import DEAD_LETTERS
from services.shared.ops import Health, start_ops_server
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
