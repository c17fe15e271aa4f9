"""No dead panels, no silent alerts: after a small run through every service (and
`crm lag --serve`), every metric the Prometheus rules and the Grafana dashboard query is
on some process's /metrics."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from schemas.seller import EvaluationDue, SellerMetricsReported
from schemas.topics import ALL_TOPICS
from services.eligibility.domain.calendar import add_months, month_at, window
from services.shared import groups
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from services.shared.worker_process import WorkerProcess, free_port
from tests.e2e.pipeline import ApiProcess, eventually, running_pipeline
from tests.monitoring import exposed_names, referenced_metrics

MARKET = "TH"


class LagExporterProcess(WorkerProcess):
    """`crm lag --serve` polling every second, its /metrics on a free port."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        super().__init__("lag", settings, log_path)
        port = self.env["CRM_OPS_PORT"] = str(free_port())
        self.command = ["lag", "--serve", "--port", port, "--interval", "1"]


async def _scrape(port: int) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200, await response.text()
        return await response.text()


async def test_every_metric_the_rules_and_dashboard_query_is_exported(
    settings: Settings, topics: Callable[..., Any], redis_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"redis_url": redis_url})
    await topics(*(spec.name for spec in ALL_TOPICS))
    seller = f"ops-{uuid.uuid4().hex[:8]}"
    last_month = add_months(month_at(datetime.now(UTC), MARKET), -1)
    lag = LagExporterProcess(settings, tmp_path / "lag.log")
    lag.start()
    try:
        async with running_pipeline(settings, tmp_path) as pipeline:
            day = window(last_month)[0] + timedelta(days=2)
            await pipeline.publish(
                [
                    SellerMetricsReported(
                        event_id=uuid.uuid4(),
                        occurred_at=datetime.now(UTC),
                        seller_id=seller,
                        market=MARKET,
                        metrics_date=day,
                        chats_received=120,
                        chats_responded_12h=114,
                        ses=4.6,
                        violation_points=1,
                        extra={},
                    )
                ]
            )
            producer = new_producer(settings)
            await producer.start()
            try:  # a record no service can use: a dead letter
                await producer.send_and_wait(
                    settings.topic("crm.seller-metrics"), b"{oops", key=seller.encode()
                )
            finally:
                await producer.stop()
            await pipeline.caught_up("eligibility")
            tick = EvaluationDue(
                event_id=uuid.uuid4(),
                occurred_at=datetime.now(UTC),
                market=MARKET,
                effective_month=last_month,
            )
            await pipeline.publish([tick])
            await pipeline.status(seller, last_month)
            shop = await pipeline.http.get("/v1/shop/status", headers=pipeline.owner(seller))
            assert shop.status_code == 200, shop.text
            lag_port = await lag.wait_ready(60)

            group = groups.eligibility(settings)

            async def lag_exported() -> bool:
                text = await _scrape(lag_port)
                return f'group="{group}"' in text

            assert await eventually(lag_exported, 60), lag.log()[-2000:].decode(errors="replace")

            exposed: dict[str, set[str]] = {}
            texts: dict[str, str] = {}
            for name, process in [*pipeline.processes.items(), ("lag", lag)]:
                port = (
                    process.port
                    if isinstance(process, ApiProcess)
                    else int(process.env["CRM_OPS_PORT"])
                )
                texts[name] = await _scrape(port)
                exposed[name] = exposed_names(texts[name])
    finally:
        lag.stop()
    everywhere = set().union(*exposed.values())
    missing = referenced_metrics() - everywhere
    assert not missing, f"queried but exported by no process: {sorted(missing)}"
    # What this run made happen carries samples, not just a declaration.
    assert _sample(texts["eligibility"], "crm_dead_letter_reasons_total", reason="invalid_json")
    assert _sample(texts["eligibility"], "crm_eligibility_decisions_total", market=MARKET)
    assert _sample(texts["eligibility"], "crm_eligibility_tick_decisions_total", market=MARKET)
    assert _sample(texts["quota"], "crm_worker_check_up", check="redis") == 1
    assert _sample(texts["lag"], "kafka_consumergroup_group_max_lag", group=group) is not None
    assert _sample(texts["lag"], "kafka_consumergroup_group_lag_seconds", group=group) is not None


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The sum of the samples of `name` with these labels, or None when there is none."""
    values = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    ]
    return sum(values) if values else None
