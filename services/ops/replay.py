"""`crm replay`: rebuild every Redis projection from the topics, one service after the
other in pipeline order, each through its own `replay.py` (as `crm worker NAME` runs each
service's `worker.py`): no service's code calls another's rebuild."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

from services.shared.clock import utc_now
from services.shared.logs import configure_logging
from services.shared.replay import Progress as Advance
from services.shared.settings import get_settings

out = Console(width=None if sys.stdout.isatty() else 140)
T = TypeVar("T")


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)


def replay() -> None:
    """Rebuild the Redis projections from the topics: quota counters from
    crm.quota-ledger and seller statuses from crm.seller-status (reservations wait
    meanwhile) and the frequency-cap history, then the customers projection from the
    customer topics and its memberships, then delivery's block lists, already-messaged
    marks and performance figures. Live workers may run: they wait for each rebuild.
    Not needed after Redis lost data: every projection rebuilds itself (README)."""
    from services.customers.replay import rebuild_customers
    from services.delivery.replay import rebuild_delivery
    from services.quota.replay import rebuild_quota

    settings = get_settings()
    configure_logging("replay", settings.log_level, "console")
    table = Table("rebuild", "value")
    for name, value in _with_progress(lambda p: rebuild_quota(settings, p)).items():
        table.add_row(name, str(value))
    folded = _with_progress(lambda p: rebuild_customers(settings, p))
    table.add_row("customer events folded", str(folded))
    delivery = _with_progress(lambda p: rebuild_delivery(settings, utc_now, p))
    for projection, events in delivery.items():
        table.add_row(f"{projection} events folded", str(events))
    out.print(table)


def _with_progress(rebuild: Callable[[Advance], Awaitable[T]]) -> T:
    async def run() -> T:
        with Progress(console=out, transient=False) as progress:
            return await rebuild(_advancer(progress))

    return asyncio.run(run())


def _advancer(progress: Progress) -> Advance:
    tasks: dict[str, TaskID] = {}

    def advance(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    return advance
