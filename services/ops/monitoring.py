"""`crm dev up --monitoring`: the lag exporter and a real Prometheus that scrapes every
worker, the API and the exporter, with deploy/prometheus/rules loaded."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from services import registry
from services.shared import supervisor
from services.shared.settings import Settings, get_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "rules"
LAG_EXPORTER_PORT = 9108


def lag_exporter_port() -> int:
    return int(os.environ.get("CRM_LAG_EXPORTER_PORT", LAG_EXPORTER_PORT))


def prometheus_port() -> int:
    return int(os.environ.get("CRM_PROMETHEUS_PORT", 9090))


def prometheus_config(worker_ports: dict[str, int], api_port: int, lag_port: int) -> str:
    """prometheus.yml (JSON is YAML): job `crm` for the workers and the API (the alerts
    use its `up`), job `crm-lag` for the exporter."""
    workers = [
        {"targets": [f"127.0.0.1:{port}"], "labels": {"service": name}}
        for name, port in worker_ports.items()
    ]
    api = [{"targets": [f"127.0.0.1:{api_port}"], "labels": {"service": "api"}}]
    config = {
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
        "rule_files": [str(RULES / "*.yml")],
        "scrape_configs": [
            {"job_name": "crm", "static_configs": workers + api},
            {
                "job_name": "crm-lag",
                "static_configs": [{"targets": [f"127.0.0.1:{lag_port}"]}],
            },
        ],
    }
    return json.dumps(config, indent=2) + "\n"


def start_monitoring(settings: Settings, worker_ports: dict[str, int]) -> list[str]:
    """Start `crm lag --serve` and Prometheus (idempotent); lines saying where they are."""
    lag_port = lag_exporter_port()
    lag = supervisor.start(
        "lag", ["lag", "--serve", "--port", str(lag_port)], {"CRM_LOG_FORMAT": "json"}
    )
    config = supervisor.state_dir() / "prometheus.yml"
    config.write_text(prometheus_config(worker_ports, settings.api_port, lag_port))
    script = DEPLOY / "prometheus" / "prometheus.sh"
    code = subprocess.call([str(script), "start", str(config)], env=os.environ.copy())
    if code:
        raise RuntimeError(f"prometheus did not start (exit {code})")
    return [
        f"lag exporter: pid {lag.pid}, http://127.0.0.1:{lag_port}/metrics, log {lag.log}",
        f"prometheus: http://127.0.0.1:{prometheus_port()} (alerts: /alerts, config {config})",
    ]


def stop_monitoring() -> None:
    supervisor.stop("lag")
    subprocess.call([str(DEPLOY / "prometheus" / "prometheus.sh"), "stop"])


def worker_ports() -> dict[str, int]:
    """Where `crm dev up` serves each worker's /metrics."""
    base = get_settings().ops_port_base
    return {name: registry.ops_port(name, base) for name in registry.workers()}


def status_lines() -> list[str]:
    """Where the lag exporter and Prometheus run, when `--monitoring` started them."""
    lines = []
    lag = supervisor.status("lag")
    if lag.running:
        lines.append(f"lag exporter: running, pid {lag.pid}, :{lag_exporter_port()}/metrics")
    script = DEPLOY / "prometheus" / "prometheus.sh"
    done = subprocess.run([str(script), "status"], capture_output=True, text=True, check=False)
    if done.returncode == 0:
        lines.append(done.stdout.strip())
    return lines
