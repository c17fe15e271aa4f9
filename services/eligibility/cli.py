"""`crm evaluate` and `crm status`: operators' handles on the eligibility engine."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from schemas.errors import describe
from schemas.markets import MARKET_TIME_ZONES
from schemas.seller import EvaluationDue, SellerStatusChanged
from services.shared.clock import utc_now
from services.shared.settings import get_settings

out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True)


def status_table(status: SellerStatusChanged) -> Table:
    table = Table("criterion", "value", "op", "threshold", "passed", "note", title="criteria")
    for c in status.criteria:
        value = "-" if c.value is None else f"{c.value:.4g}"
        threshold = "-" if c.threshold is None else f"{c.threshold:g}"
        mark = "[green]yes[/green]" if c.passed else "[red]no[/red]"
        table.add_row(c.name, value, c.op, threshold, mark, c.note or "")
    return table


def print_status(console: Console, status: SellerStatusChanged) -> None:
    perf = status.performance
    console.print(
        f"[bold]{status.seller_id}[/bold] ({status.market}) {status.effective_month}: "
        f"access [bold]{status.access}[/bold], eligible {status.eligible}, "
        f"level {status.level if status.level is not None else '-'}, "
        f"weekly quota {status.weekly_quota}  [dim]reason {status.reason}, "
        f"policy {status.policy_version}, window {status.window_start} … {status.window_end} "
        f"(exclusive)[/dim]"
    )
    if perf is not None:
        console.print(
            f"  broadcasts: delivered {perf.delivered}, read {perf.read} "
            f"({perf.read_rate:.1%}), blocked {perf.blocked} ({perf.block_rate:.2%})"
        )
    console.print(status_table(status))


def simulate(
    policy: Annotated[Path, typer.Option(help="the candidate policy book (TOML)")],
    market: Annotated[str, typer.Option(help="market, e.g. TH")],
    month: Annotated[str, typer.Option(help="effective month YYYY-MM")],
    as_json: Annotated[bool, typer.Option("--json", help="the comparison as JSON")] = False,
    sellers: Annotated[bool, typer.Option("--sellers", help="list the sellers who change")] = False,
) -> None:
    """Decide every seller of MARKET for MONTH from the worker's committed state under a
    candidate policy and under the one in force; publish nothing, print what changes."""
    from services.eligibility.domain.what_if import label
    from services.eligibility.what_if import simulate as run_simulation
    from services.policy import load_policy, policy_of

    if market not in MARKET_TIME_ZONES:
        raise typer.BadParameter(f"unknown market {market!r}", param_hint="--market")
    try:
        in_force, candidate = policy_of(get_settings()), load_policy(policy)
    except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        err.print(f"[red]the candidate policy {policy} is refused[/red]: {exc}")
        raise typer.Exit(1) from None
    result = asyncio.run(run_simulation(get_settings(), in_force, candidate, market, month))
    document = {
        "market": market,
        "effective_month": month,
        "policy_in_force": in_force.for_market(market).version,
        "candidate": candidate.for_market(market).version,
        "sellers": result.sellers,
        "access_changes": result.access_changes,
        "level_changes": result.level_changes,
        "transitions": result.matrix(),
    }
    if sellers:
        document["changed_sellers"] = [
            {"seller_id": s, "in_force": label(a), "candidate": label(b)}
            for s, a, b in sorted(result.changed)
        ]
    if as_json:
        out.print_json(json.dumps(document))
        return
    out.print(
        f"{result.sellers} sellers of {market} for {month}: policy "
        f"{document['policy_in_force']} → {document['candidate']}: "
        f"[bold]{result.access_changes}[/bold] would change access, "
        f"[bold]{result.level_changes}[/bold] level"
    )
    matrix = result.matrix()
    columns = sorted({b for row in matrix.values() for b in row})
    table = Table("in force \\ candidate", *columns, title="sellers per transition")
    for row_label, row in matrix.items():
        table.add_row(row_label, *(str(row.get(c, "")) for c in columns))
    out.print(table)
    if sellers:
        listing = Table("seller", "in force", "candidate", title="sellers who change")
        for s, a, b in sorted(result.changed):
            listing.add_row(s, label(a), label(b))
        out.print(listing)


def register(app: typer.Typer) -> None:
    from services.policy.cli import policy_app

    # Beside `crm policy show`: the group belongs to the policy book.
    policy_app.command("simulate")(simulate)

    @app.command()
    def evaluate(
        market: Annotated[str, typer.Option(help="market, e.g. TH")],
        month: Annotated[str, typer.Option(help="effective month YYYY-MM")],
    ) -> None:
        """Emit EvaluationDue by hand: decide every known seller of MARKET for MONTH."""
        from services.eligibility.domain.decision import tick_refusal
        from services.shared.codec import encode
        from services.shared.kafka import new_producer

        now = utc_now()
        try:
            tick = EvaluationDue(
                event_id=uuid.uuid4(),
                occurred_at=now,
                market=market,  # type: ignore[arg-type]  # validated right here
                effective_month=month,
            )
        except ValidationError as exc:
            err.print(f"[red]refused[/red]: {describe(exc)}")
            raise typer.Exit(1) from None
        refusal = tick_refusal(tick.market, tick.effective_month, now)
        if refusal is not None:
            err.print(f"[red]refused[/red]: {refusal}")
            raise typer.Exit(1)

        async def send() -> None:
            settings = get_settings()
            producer = new_producer(settings)
            await producer.start()
            try:
                topic = settings.topic("crm.evaluation-ticks")
                await producer.send_and_wait(topic, encode(tick), key=market.encode())
            finally:
                await producer.stop()

        asyncio.run(send())
        out.print(f"EvaluationDue {market} {month} sent (event {tick.event_id})")

    @app.command()
    def status(
        seller_id: Annotated[str, typer.Argument(help="the seller")],
        as_json: Annotated[bool, typer.Option("--json", help="the status event as JSON")] = False,
    ) -> None:
        """A seller's latest status with every criterion explained."""
        from services.eligibility.reader import latest_status

        found = asyncio.run(latest_status(get_settings(), seller_id))
        if found is None:
            err.print(f"no status for {seller_id} yet (not evaluated, or unknown seller)")
            raise typer.Exit(1)
        if as_json:
            out.print_json(json.dumps(found.model_dump(mode="json")))
            return
        print_status(out, found)
