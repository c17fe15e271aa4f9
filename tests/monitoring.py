"""What the Prometheus rules and the Grafana dashboard query: metric names parsed out of
their PromQL, recording rules resolved to the metrics they read."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
RULE_FILES = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
# Series Prometheus makes itself rather than scraping.
SYNTHETIC = {"up"}

_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "offset", "bool",
    "group_left", "group_right", "inf", "nan",
    # aggregations, written `sum by (x) (...)`
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group",
}  # fmt: skip
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def rules() -> list[dict[str, Any]]:
    found = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found.extend(group["rules"])
    return found


def dashboard_exprs() -> list[str]:
    exprs = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            exprs.extend(t["expr"] for t in panel.get("targets", []))
    return exprs


def names_in(expr: str) -> set[str]:
    """Metric names in one PromQL expression (functions, keywords, labels left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", text)
    text = re.sub(r"\$\w+", "", text)  # Grafana variables
    names = set()
    for match in _IDENT.finditer(text):
        name, rest = match.group(), text[match.end() :].lstrip()
        if rest.startswith("(") or name in _KEYWORDS:
            continue  # a function call or an operator
        if re.fullmatch(r"\d+[smhdwy]", name) or name.isdigit():
            continue
        names.add(name)
    return names


def referenced_metrics() -> set[str]:
    """Every scraped metric the rules and dashboards read (recorded series resolved)."""
    recorded = {r["record"]: r["expr"] for r in rules() if "record" in r}
    exprs = [r["expr"] for r in rules()] + dashboard_exprs()
    names: set[str] = set()
    for expr in exprs:
        names |= names_in(expr)
    return {n for n in names if n not in recorded} - SYNTHETIC


def exposed_names(exposition: str) -> set[str]:
    """Every name an exposition declares, counted even when a family has no sample yet."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_sum", "_count"))
    return names
