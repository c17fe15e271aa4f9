"""`crm bench`: run the benchmarks, print a table, save JSON.

Later services register their benchmarks in BENCHMARKS; each receives the run's
context, including the baselines already measured, and reports a ratio to them.
"""

from __future__ import annotations

import json
import os
import platform
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import baselines, synthetic_events
from schemas.topics import topic as registry_topic
from services.shared.kafka import create_topics, delete_topics
from services.shared.settings import Settings

RESULTS_DIR = Path(__file__).resolve().parents[1] / "bench-results"


@dataclass
class BenchContext:
    settings: Settings
    run_id: str
    events: int
    clients: int
    seconds: float
    results: dict[str, dict[str, Any]] = field(default_factory=dict)


Benchmark = Callable[[BenchContext], Awaitable[dict[str, Any]]]


async def kafka_baselines(ctx: BenchContext) -> dict[str, Any]:
    # The mixed inbound events land on one engagement-shaped topic (6 partitions).
    settings = ctx.settings
    await create_topics(settings, ["crm.chat-engagement"])
    topic = settings.topic("crm.chat-engagement")
    spec = registry_topic("crm.chat-engagement")
    pairs = list(synthetic_events.events(ctx.events))
    try:
        ctx.results["kafka_produce_send"] = await baselines.produce_send(
            settings.kafka_bootstrap, topic, pairs
        )
        ctx.results["kafka_produce_batched"] = await baselines.produce_batched(
            settings.kafka_bootstrap, topic, pairs
        )
        total = 2 * len(pairs)
        ctx.results["kafka_consume_raw"] = await baselines.consume(
            settings.kafka_bootstrap, topic, spec.partitions, total, decode_events=False
        )
        ctx.results["kafka_consume_decode"] = await baselines.consume(
            settings.kafka_bootstrap, topic, spec.partitions, total, decode_events=True
        )
    finally:
        await delete_topics(settings, ["crm.chat-engagement"])
    return {}


async def redis_baseline(ctx: BenchContext) -> dict[str, Any]:
    return await baselines.redis_evalsha(
        ctx.settings.redis_url, clients=ctx.clients, seconds=ctx.seconds, run_id=ctx.run_id
    )


BENCHMARKS: dict[str, Benchmark] = {
    "kafka_baselines": kafka_baselines,
    "redis_evalsha": redis_baseline,
}


def all_benchmarks() -> dict[str, Benchmark]:
    """The baselines first, then each service's `BENCHMARKS` in pipeline order."""
    from services import registry

    found = dict(BENCHMARKS)
    for module in registry.bench_modules():
        found.update(module.BENCHMARKS)
    return found


def _table(results: dict[str, dict[str, Any]]) -> Table:
    table = Table(
        "benchmark", "count", "seconds", "per second", "MB/s", "p50 ms", "p99 ms", "ratio"
    )
    for name, r in results.items():
        table.add_row(
            name,
            str(r.get("count", "")),
            str(r.get("seconds", "")),
            f"{r['per_second']:,.0f}" if "per_second" in r else "",
            str(r.get("mb_per_second", "")),
            str(r.get("p50_ms", "")),
            str(r.get("p99_ms", "")),
            f"{r['ratio']:.0%} of {r['baseline']}" if "ratio" in r else "",
        )
    return table


async def run_benchmarks(
    settings: Settings,
    *,
    only: list[str] | None,
    events: int,
    clients: int,
    seconds: float,
    output: Path | None,
    console: Console,
) -> Path:
    run_id = uuid.uuid4().hex[:8]
    bench_settings = settings.model_copy(update={"topic_prefix": f"bench-{run_id}."})
    ctx = BenchContext(bench_settings, run_id, events, clients, seconds)
    started = datetime.now(UTC)
    wanted = {n for entry in only or [] for n in entry.split(",") if n}
    for name, bench in all_benchmarks().items():
        if wanted and name not in wanted:
            continue
        # Topics of its own per benchmark: one deleting its topics at the end must not
        # race the next creating the same names (Kafka deletes a topic asynchronously).
        prefix = f"{bench_settings.topic_prefix}{name}."
        own = replace(ctx, settings=bench_settings.model_copy(update={"topic_prefix": prefix}))
        with console.status(f"running {name} …"):
            result = await bench(own)
        if result:
            ctx.results[name] = result
        console.print(f"[green]done[/green] {name}")
    console.print(_table(ctx.results))
    report = {
        "run_id": run_id,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "host": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
        "parameters": {"events": events, "clients": clients, "seconds": seconds},
        "results": ctx.results,
    }
    path = output or RESULTS_DIR / f"bench-{started:%Y%m%dT%H%M%S}-{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    (path.parent / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    return path
