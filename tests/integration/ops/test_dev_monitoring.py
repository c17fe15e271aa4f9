"""`crm dev up --monitoring`'s part: the lag exporter and a real Prometheus (Debian's
package) with every rule loaded, scraping the exporter; `crm dev down`'s part stops both."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from services.ops.monitoring import (
    start_monitoring,
    status_lines,
    stop_monitoring,
    worker_ports,
)
from services.shared.settings import Settings
from services.shared.worker_process import free_port
from tests.e2e.pipeline import eventually
from tests.monitoring import rules


async def test_prometheus_loads_the_rules_and_scrapes_the_lag_exporter(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prometheus_port, lag_port = free_port(), free_port()
    for name, value in {
        "CRM_STATE_DIR": str(tmp_path),
        "CRM_PROMETHEUS_PORT": str(prometheus_port),
        "CRM_LAG_EXPORTER_PORT": str(lag_port),
        "CRM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "CRM_TOPIC_PREFIX": settings.topic_prefix,
    }.items():
        monkeypatch.setenv(name, value)
    try:
        lines = start_monitoring(settings, worker_ports())
        assert f"http://127.0.0.1:{prometheus_port}" in lines[-1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{prometheus_port}") as http:
            loaded = (await http.get("/api/v1/rules")).json()["data"]["groups"]
            assert sum(len(g["rules"]) for g in loaded) == len(rules())

            async def lag_scraped() -> bool:
                targets = (await http.get("/api/v1/targets")).json()["data"]["activeTargets"]
                return any(t["labels"]["job"] == "crm-lag" and t["health"] == "up" for t in targets)

            assert await eventually(lag_scraped, 45), "Prometheus never scraped the exporter"
        running = status_lines()
        assert [line.split(":")[0] for line in running] == ["lag exporter", "prometheus"]
    finally:
        stop_monitoring()
    assert not (tmp_path / f"prometheus-{prometheus_port}" / "prometheus.pid").exists()
    assert status_lines() == []
