"""`crm segments recompute [--seller ID] [--as-of YYYY-MM-DD]`: segment memberships on
demand (SPEC section 8). Parses, hands over to `recompute.Recompute`, prints."""

from __future__ import annotations

import asyncio
import sys
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.customers.recompute import SellerRecomputed, recompute_for
from services.customers.store import customers_redis
from services.shared.clock import utc_now
from services.shared.logs import configure_logging
from services.shared.settings import Settings, get_settings

out = Console(width=None if sys.stdout.isatty() else 140)
segments_app = typer.Typer(help="Customer segments: memberships as of a day.")
# Sellers listed one by one in the summary; the rest are totalled.
SHOWN = 20
# Sellers listed one by one in the summary; the rest are totalled.


def register(app: typer.Typer) -> None:
    app.add_typer(segments_app, name="segments")


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        message = f"{value!r} is not a date YYYY-MM-DD"
        raise typer.BadParameter(message, param_hint="--as-of") from None


@segments_app.command("recompute")
def recompute(
    seller: Annotated[str | None, typer.Option(help="one seller; default every seller")] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="the day D, YYYY-MM-DD; default today in each seller's market"),
    ] = None,
) -> None:
    """Recompute segment memberships as of D 00:00 market-local (the built-in segments and
    every custom one), then point readers at D. A seller without a known market, or for
    whom D is still in the future, is skipped and reported; the command exits 1 if any was."""
    settings = get_settings()
    configure_logging("customers", settings.log_level, "console")
    day = _as_of(as_of)
    done = asyncio.run(_recompute(settings, seller, day))
    out.print(_summary(done))
    skipped = [d for d in done if d.skipped]
    for d in skipped:
        out.print(f"[yellow]skipped {d.seller_id}: {d.skipped}[/yellow]")
    if not done:
        out.print("no sellers to recompute")
    if skipped:
        raise typer.Exit(1)


async def _recompute(
    settings: Settings, seller: str | None, as_of: date | None
) -> list[SellerRecomputed]:
    redis = customers_redis(settings)
    try:
        # The command line is the edge where the wall clock is read.
        recompute = recompute_for(settings, redis, utc_now)
        if seller is not None:
            return [await recompute.seller(seller, as_of)]
        with Progress(
            TextColumn("recomputing sellers"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[customers]:,} customers"),
            TimeElapsedColumn(),
            console=out,
        ) as progress:
            task = progress.add_task("sellers", total=None, customers=0)
            judged = 0

            def advance(done: int, total: int, outcome: SellerRecomputed) -> None:
                nonlocal judged
                judged += outcome.customers
                progress.update(task, completed=done, total=total, customers=judged)

            return await recompute.everyone(as_of, advance)
    finally:
        await redis.aclose()


def _summary(done: list[SellerRecomputed]) -> Table:
    table = Table("seller", "market", "as of", "customers", "sizes")
    for d in sorted(done, key=lambda d: d.seller_id)[:SHOWN]:
        sizes = ", ".join(f"{k} {v}" for k, v in sorted(d.sizes.items()))
        table.add_row(
            d.seller_id,
            d.market or "-",
            d.as_of.isoformat() if d.as_of else "-",
            f"{d.customers:,}",
            sizes or d.skipped or "",
        )
    if len(done) > SHOWN:
        customers = sum(d.customers for d in done)
        table.add_row(f"… {len(done) - SHOWN} more", "", "", f"{customers:,} in all", "")
    return table
