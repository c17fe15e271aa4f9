"""`crm soak`: parses, hands over to the runner, exits 1 on any violated invariant."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

# Piped output (CI logs, files) gets a width that fits the tables instead of 80 columns.
out = Console(width=None if sys.stdout.isatty() else 140)


def register(app: typer.Typer) -> None:
    app.command()(soak)


def soak(
    minutes: Annotated[float, typer.Option(help="how long the traffic and faults last")] = 3.0,
    seed: Annotated[int, typer.Option(help="seeds the traffic and the faults' moments")] = 1,
    faults: Annotated[
        str,
        typer.Option(
            help="'all' or a comma list of: kill, broker_restart, redis_restart, "
            "flushall, redis_pause, broker_stop"
        ),
    ] = "all",
    brokers: Annotated[int, typer.Option(help="1, or 3 (deploy/kafka/cluster.sh)")] = 1,
    output: Annotated[Path | None, typer.Option(help="JSON report")] = None,
    kafka_port: Annotated[int, typer.Option(help="the soak's own broker (first of three)")] = 29392,
    redis_port: Annotated[int, typer.Option(help="the soak's own Redis")] = 26387,
    api_port: Annotated[int, typer.Option(help="the soak's crm api")] = 28480,
    ops_port_base: Annotated[int, typer.Option(help="workers' ops ports: this + offset")] = 28500,
) -> None:
    """Run the marketplace on a fresh stack of its own for a while, throw faults at it,
    drain, and check every invariant on the committed output (exit 1 on a violation)."""
    from soak.runner import SoakOptions, run_soak
    from soak.stack import Ports

    if brokers not in (1, 3):
        raise typer.BadParameter("--brokers is 1 or 3")
    options = SoakOptions(
        minutes=minutes,
        seed=seed,
        faults=faults,
        brokers=brokers,
        output=output,
        ports=Ports(kafka_port, redis_port, api_port, ops_port_base),
    )
    # SIGTERM as Ctrl-C: the soak then stops the stack it started.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        report = asyncio.run(run_soak(options, out))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if any(report.get("violations", {}).values()) or "violations" not in report:
        raise typer.Exit(1)
