"""The Prometheus rules pass promtool (syntax and the unit tests of every alert), every
alert has a runbook entry, and the dashboard is well-formed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from services.ops.monitoring import prometheus_config
from tests.monitoring import DASHBOARDS, DEPLOY, RULE_FILES, names_in, rules

README = DEPLOY.parent / "README.md"
PROMTOOL_TESTS = sorted((DEPLOY / "prometheus" / "tests").glob("*.yml"))


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make setup` installs it (deploy/prometheus)"
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_accepts_the_rules() -> None:
    result = _promtool("check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    assert PROMTOOL_TESTS
    result = _promtool("test", "rules", *map(str, PROMTOOL_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_case_and_a_runbook_entry() -> None:
    # promtool compares the alerts exactly: each case's other series (a steady backlog, a
    # ready worker …) would show up as an unexpected alert, so they are the silent cases.
    alerts = {r["alert"] for r in rules() if "alert" in r}
    fired: set[str] = set()
    for path in PROMTOOL_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    fired.add(check["alertname"])
    assert alerts == fired, f"alerts without a firing test case: {alerts - fired}"
    headings = {m.lower() for m in re.findall(r"^#+ .*?`?(\w+)`?\s*$", README.read_text(), re.M)}
    assert {a.lower() for a in alerts} <= headings, "README runbook lacks an entry per alert"


def test_the_dev_config_loads_the_rules_and_passes_promtool(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus_config({"quota": 9102}, 8080, 9108))
    result = _promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_dashboard_panel_queries_something(path) -> None:  # type: ignore[no-untyped-def]
    dashboard = json.loads(path.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 15
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert names_in(target["expr"]), (panel["title"], target["expr"])


def test_metric_names_are_parsed_out_of_promql() -> None:
    expr = (
        'sum by (job) (increase(crm_x_total{a="b"}[15m])) or on (job) up{job="crm"} == 0'
        " unless histogram_quantile(0.99, rate(crm_y_bucket[$__rate_interval])) > 3"
    )
    assert names_in(expr) == {"crm_x_total", "up", "crm_y_bucket"}
