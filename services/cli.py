"""`crm`: the one entry point. Subcommands parse, hand over and print; no rules here."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services.shared.clock import utc_now
from services.shared.settings import Settings, get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPLOY = REPO_ROOT / "deploy"

app = typer.Typer(help="CRM Broadcast: earned-access marketing broadcasts.", no_args_is_help=True)
dev_app = typer.Typer(help="The local Kafka and Redis (and, later, every service).")
topics_app = typer.Typer(help="Kafka topics of the registry.")
schemas_app = typer.Typer(help="The event contract.")
app.add_typer(dev_app, name="dev")
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")

# Piped output (CI logs, files) gets a width that fits the tables instead of 80 columns.
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 140)


def _stack(action: str) -> int:
    return subprocess.call([str(DEPLOY / "stack.sh"), action], env=os.environ.copy())


@dev_app.command("up")
def dev_up(
    monitoring: Annotated[
        bool, typer.Option(help="also the lag exporter and Prometheus with the alert rules")
    ] = False,
    replicas: Annotated[
        list[str] | None,
        typer.Option(
            help="processes of a worker, e.g. --replicas delivery=3 (outreach, delivery and "
            "customers share their partitions); extra replicas' ops on port + 100 × n"
        ),
    ] = None,
) -> None:
    """Start Kafka and Redis on loopback (fetching and installing them when needed)."""
    counts = _replica_counts(replicas or [])
    code = _stack("up")
    if code:
        raise typer.Exit(code)
    created = asyncio.run(_create_topics(get_settings(), None))
    err.print(f"topics: {len(created)} created, the rest already existed")
    from services import registry
    from services.shared import supervisor

    for name in registry.workers():
        port = str(registry.ops_port(name, get_settings().ops_port_base))
        process = supervisor.start(name, ["worker", name], {"CRM_OPS_PORT": port})
        err.print(f"worker {name}: pid {process.pid}, ops on :{port}, log {process.log}")
        for n in range(2, counts.get(name, 1) + 1):
            extra = str(int(port) + 100 * (n - 1))
            process = supervisor.start(f"{name}.{n}", ["worker", name], {"CRM_OPS_PORT": extra})
            err.print(f"worker {name} #{n}: pid {process.pid}, ops on :{extra}")
    for name, args in registry.servers().items():
        process = supervisor.start(name, args)
        err.print(f"{name}: pid {process.pid}, on :{get_settings().api_port}, log {process.log}")
    if monitoring:
        from services.ops import monitoring as ops_monitoring

        ports = ops_monitoring.worker_ports()
        for line in ops_monitoring.start_monitoring(get_settings(), ports):
            err.print(line, markup=False, highlight=False)


def _replica_counts(specs: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for spec in specs:
        name, _, count = spec.partition("=")
        if not count.isdigit() or int(count) < 1:
            raise typer.BadParameter(f"{spec!r}: expected SERVICE=COUNT, e.g. delivery=3")
        counts[name] = int(count)
    return counts


@dev_app.command("down")
def dev_down() -> None:
    """Stop the services, then Kafka and Redis."""
    from services import registry
    from services.shared import supervisor

    names = [*registry.servers(), *reversed(registry.SERVICES)]
    for name in [r for n in names for r in supervisor.replicas(n)] + names:
        if supervisor.stop(name):
            err.print(f"stopped {name}")
    from services.ops.monitoring import stop_monitoring

    stop_monitoring()  # started by `dev up --monitoring`; nothing to do otherwise
    raise typer.Exit(_stack("down"))


@dev_app.command("status")
def dev_status() -> None:
    """Where Kafka, Redis and each service run, or that they do not."""
    from services import registry
    from services.shared import supervisor

    code = _stack("status")
    for name in [*registry.workers(), *registry.servers()]:
        process = supervisor.status(name)
        state = f"running, pid {process.pid}" if process.running else "not running"
        err.print(f"{name}: {state} (log {process.log})", markup=False, highlight=False)
        code = code or (0 if process.running else 1)
    from services.ops.monitoring import status_lines

    for line in status_lines():  # only what `dev up --monitoring` started
        err.print(line, markup=False, highlight=False)
    raise typer.Exit(code)


@app.command()
def worker(name: Annotated[str, typer.Argument(help="eligibility, quota, ...")]) -> None:
    """Run one service's worker in the foreground (Ctrl-C stops it cleanly)."""
    from services import registry

    module = registry.part(name, "worker") if name in registry.SERVICES else None
    if module is None:
        raise typer.BadParameter(f"no worker {name!r}; known: {', '.join(registry.workers())}")
    module.main(get_settings())


async def _create_topics(settings: Settings, names: list[str] | None) -> list[str]:
    from services.shared.kafka import create_topics, retrying, wait_for_kafka

    await wait_for_kafka(settings)
    # A broker just started may answer "not controller" or time out a creation for a
    # moment: retried, since creating is idempotent.
    return await retrying(lambda: create_topics(settings, names))


@topics_app.command("create")
def topics_create(
    names: Annotated[list[str] | None, typer.Argument(help="registry names; default all")] = None,
) -> None:
    """Create every registry topic that does not exist yet (idempotent)."""
    settings = get_settings()
    created = asyncio.run(_create_topics(settings, names or None))
    for name in created:
        out.print(f"created {settings.topic(name)}")
    out.print(f"{len(created)} created; the others already existed")


@topics_app.command("list")
def topics_list() -> None:
    """The topic registry: names, keys, partitions, retention and event types."""
    from schemas.topics import ALL_TOPICS

    table = Table("topic", "key", "partitions", "cleanup", "retention", "events")
    table.columns[0].no_wrap = True
    for spec in ALL_TOPICS:
        retention = "forever" if spec.retention_ms < 0 else f"{spec.retention_ms // 86_400_000} d"
        events = ", ".join(e.__name__ for e in spec.event_types) or "(not events: faust's own)"
        table.add_row(
            spec.name,
            spec.key_field or "-",
            str(spec.partitions),
            spec.cleanup_policy,
            retention,
            events,
        )
    out.print(table)


@schemas_app.command("export")
def schemas_export(
    check: Annotated[bool, typer.Option(help="fail when the committed files drift")] = False,
) -> None:
    """Write schemas/json/*.json from the models (or, with --check, compare)."""
    from schemas.export import check_json_schemas, export_json_schemas

    directory = REPO_ROOT / "schemas" / "json"
    if check:
        drift = check_json_schemas(directory)
        if drift:
            err.print(f"[red]schemas drifted[/red]: {', '.join(drift)}; run `crm schemas export`")
            raise typer.Exit(1)
        out.print("schemas/json matches the models")
        return
    written = export_json_schemas(directory)
    out.print(f"wrote {len(written)} files to {directory}")


def _parse_assignment(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep:
        raise typer.BadParameter(f"expected FIELD=VALUE, got {text!r}")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw


@app.command()
def publish(
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="JSON lines; '-' reads stdin")
    ] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="event type")] = None,
    fields: Annotated[
        list[str] | None, typer.Argument(help="FIELD=VALUE for --type (JSON values allowed)")
    ] = None,
    value: Annotated[str | None, typer.Option(help="one event as a JSON object")] = None,
    skip_invalid: Annotated[
        bool, typer.Option(help="send the valid lines even when some are refused")
    ] = False,
) -> None:
    """Validate and publish events: from a JSON-lines file, --value, or --type and fields.

    Envelope fields left out of --value / --type (event_id, occurred_at,
    schema_version) are filled in. A file with a refused line sends nothing
    unless --skip-invalid.
    """
    from services.shared.admission import Plausibility
    from services.shared.publish import parse_lines

    settings = get_settings()
    if file is not None:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        lines = text.splitlines()
    else:
        if value is not None:
            event = json.loads(value)
        elif event_type is not None:
            event = {"event_type": event_type, **dict(map(_parse_assignment, fields or []))}
        else:
            raise typer.BadParameter("give --file, --value or --type")
        event.setdefault("event_id", str(uuid.uuid4()))
        event.setdefault("schema_version", 1)
        event.setdefault("occurred_at", utc_now().isoformat())
        lines = [json.dumps(event)]
    good, errors = parse_lines(
        lines, max_bytes=settings.max_event_bytes, rule=Plausibility.of(settings)
    )
    for message in errors:
        err.print(f"[red]refused[/red] {message}")
    if errors and not skip_invalid:
        err.print(
            f"{len(errors)} line(s) refused; nothing sent (use --skip-invalid to send the rest)"
        )
        raise typer.Exit(1)
    sent = asyncio.run(_send(settings, good))
    out.print(f"sent {sent} event(s)" + (f", refused {len(errors)}" if errors else ""))


async def _send(settings: Settings, batch: list[Any]) -> int:
    from services.shared.kafka import new_producer

    producer = new_producer(settings)
    await producer.start()
    try:
        futures = [
            await producer.send(
                settings.topic(o.topic), o.value, key=o.key.encode() if o.key else None
            )
            for o in batch
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(batch)


@app.command()
def lag(
    group: Annotated[list[str] | None, typer.Option(help="only these consumer groups")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
    serve: Annotated[
        bool, typer.Option("--serve", help="export lag as Prometheus metrics until Ctrl-C")
    ] = False,
    host: Annotated[str, typer.Option(help="--serve: address to bind")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(envvar="CRM_LAG_EXPORTER_PORT", help="--serve: /metrics port")
    ] = 9108,
    interval: Annotated[float, typer.Option(help="--serve: seconds between polls")] = 15.0,
) -> None:
    """Consumer lag per group, topic and partition (log end offset − committed offset);
    with --serve, the same as kafka-lag-exporter's metrics on http://HOST:PORT/metrics."""
    from services.shared.lag import consumer_lag

    settings = get_settings()
    if serve:
        from services.shared.lag_exporter import serve_lag
        from services.shared.signals import run_until_signalled

        async def run(settings: Settings, stopping: asyncio.Event) -> None:
            await serve_lag(
                settings,
                host=host,
                port=port,
                interval=interval,
                cluster_name=settings.kafka_bootstrap,
                stopping=stopping,
                topic_prefix=settings.topic_prefix or None,
            )

        run_until_signalled("lag-exporter", settings, run)
        return
    rows = asyncio.run(consumer_lag(settings, group or None))
    if as_json:
        out.print_json(json.dumps([r.as_dict() for r in rows]))
        return
    table = Table("group", "topic", "partition", "committed", "end", "lag")
    for r in rows:
        committed = "-" if r.committed is None else str(r.committed)
        table.add_row(r.group, r.topic, str(r.partition), committed, str(r.end), str(r.lag))
    out.print(table)
    out.print(f"total lag: {sum(r.lag for r in rows)}")


def _register_services() -> None:
    from services import registry
    from services.ops import cli as ops_cli
    from services.policy import cli as policy_cli

    ops_cli.register(app)
    # The policy book belongs to no one service: every one decides with it.
    policy_cli.register(app)
    for _, module in registry.parts("cli"):
        module.register(app)
    for module in registry.tool_clis():
        module.register(app)


def main() -> None:
    _register_services()
    app()


if __name__ == "__main__":
    main()
