"""`crm bench`: parses, hands over to the harness, prints where the results went."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.shared.settings import get_settings

# Piped output (CI logs, files) gets a width that fits the tables instead of 80 columns.
out = Console(width=None if sys.stdout.isatty() else 140)


def register(app: typer.Typer) -> None:
    app.command()(bench)


def bench(
    only: Annotated[
        list[str] | None,
        typer.Option(help="run only these benchmarks (repeat, or comma-separated)"),
    ] = None,
    events: Annotated[int, typer.Option(help="events for the Kafka baselines")] = 200_000,
    clients: Annotated[int, typer.Option(help="concurrent Redis clients")] = 100,
    seconds: Annotated[float, typer.Option(help="duration of the Redis baseline")] = 10.0,
    output: Annotated[Path | None, typer.Option(help="JSON results file")] = None,
) -> None:
    """Benchmarks, each beside the raw baseline measured in the same run."""
    from bench.harness import run_benchmarks

    results_path = asyncio.run(
        run_benchmarks(
            get_settings(),
            only=only or None,
            events=events,
            clients=clients,
            seconds=seconds,
            output=output,
            console=out,
        )
    )
    out.print(f"results written to {results_path}")
