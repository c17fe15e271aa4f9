"""`crm quota SELLER_ID`: parse, hand over to the quota service, print. (`crm replay`, which
rebuilds quota's projections among others, is services/ops/replay.py.)"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.quota.adapter import open_quota
from services.shared.clock import utc_now
from services.shared.logs import configure_logging
from services.shared.settings import Settings, get_settings

out = Console(width=None if sys.stdout.isatty() else 140)


def _settings() -> Settings:
    settings = get_settings()
    configure_logging("quota", settings.log_level, "console")
    return settings


def register(app: typer.Typer) -> None:
    app.command("quota")(quota)


def quota(
    seller_id: Annotated[str, typer.Argument(help="the seller")],
    at: Annotated[
        datetime | None, typer.Option(help="an instant in the week to show (default: now)")
    ] = None,
) -> None:
    """A seller's weekly quota: status, limit, used and left in the week holding --at."""
    if at is not None and at.tzinfo is None:
        raise typer.BadParameter("--at needs an offset, e.g. 2024-07-03T12:00:00+07:00")
    asyncio.run(_show(_settings(), seller_id, at or utc_now()))


async def _show(settings: Settings, seller_id: str, at: datetime) -> None:
    async with open_quota(settings) as port:
        status = await port.seller_status(seller_id)
        usage = await port.usage(seller_id, at)
        last_rebuild = await port.store.last_rebuild()
    table = Table("seller", seller_id)
    if status is None:
        table.add_row("status", "none yet: quota 0")
    else:
        table.add_row("market", status.market)
        table.add_row("access", status.access)
        table.add_row("level", str(status.level))
        table.add_row("weekly quota", str(status.weekly_quota))
        table.add_row("effective month", status.effective_month)
    table.add_row("week", usage.week or "-")
    table.add_row("limit", str(usage.limit))
    table.add_row("used", str(usage.used))
    table.add_row("left", str(usage.left))
    if last_rebuild:
        table.add_row("last rebuild", f"{last_rebuild['rebuilt_at']} ({last_rebuild['trigger']})")
    out.print(table)
