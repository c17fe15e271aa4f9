"""`crm policy show [--market M] [--json]`: the policy in force and its version — what
every service (eligibility, quota, delivery) decides with when started with the same
CRM_POLICY."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.table import Table

from schemas.markets import MARKET_TIME_ZONES
from services.policy import Policy, PolicyBook, policy_of
from services.shared.settings import get_settings

out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True)
policy_app = typer.Typer(help="The policy book: thresholds, levels, quotas, frequency cap.")


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")


def _bound(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def policy_view(policy: Policy) -> Group:
    """The policy as rich tables (also used by the demo)."""
    rules = policy.eligibility
    eligibility = Table("criterion", "passes when", title="eligibility")
    eligibility.add_row("response_rate_12h", f">= {rules.response_rate_min:g}")
    eligibility.add_row("ses", f">= {rules.ses_min:g}")
    eligibility.add_row("violation_points", f"< {rules.violation_points_below}")
    for extra in rules.extra:
        eligibility.add_row(extra.name, f"{extra.op} {extra.threshold:g}")

    level = policy.level
    levels = Table(
        "level",
        "match",
        "read_rate >=",
        "read_rate <",
        "block_rate >=",
        "block_rate <",
        "weekly quota",
        title=f"level table (first match; fewer than {level.min_delivered} delivered keeps "
        f"the level; new sellers start at {level.new_seller_level})",
    )
    for row in level.rows:
        levels.add_row(
            str(row.level),
            row.match,
            _bound(row.read_rate_at_least),
            _bound(row.read_rate_below),
            _bound(row.block_rate_at_least),
            _bound(row.block_rate_below),
            str(policy.weekly_quota(row.level)),
        )

    cap = policy.frequency_cap
    capping = Table("max messages", "rolling window", title="frequency cap (seller → customer)")
    capping.add_row(str(cap.max_messages), f"{cap.window_days} days")
    return Group(eligibility, levels, capping)


def policy_document(book: PolicyBook, market: str | None) -> dict[str, Any]:
    """What `--json` prints: the policy in force for the market (or the default)."""
    policy = book.for_market(market)
    return {
        "version": policy.version,
        "market": market,
        "overridden_markets": sorted(book.markets),
        "policy": policy.model_dump(mode="json"),
    }


@policy_app.command("show")
def show(
    market: Annotated[
        str | None, typer.Option(help="a market, e.g. TH: its overrides applied")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the policy as JSON")] = False,
) -> None:
    """The policy in force (the default, or one market's) and its version."""
    if market is not None and market not in MARKET_TIME_ZONES:
        known = ", ".join(sorted(MARKET_TIME_ZONES))
        raise typer.BadParameter(
            f"unknown market {market!r}; one of {known}", param_hint="--market"
        )
    settings = get_settings()
    try:
        book = policy_of(settings)
    except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        err.print(f"[red]the policy book {settings.policy} is refused[/red]: {exc}")
        raise typer.Exit(1) from None
    if as_json:
        out.print_json(json.dumps(policy_document(book, market)))
        return
    policy = book.for_market(market)
    source = settings.policy or "the packaged default (services/policy/default.toml)"
    overridden = ", ".join(sorted(book.markets)) or "none"
    out.print(
        f"policy [bold]{policy.version}[/bold] for {market or 'every market without overrides'}"
        f"  [dim]from {source}; markets with overrides: {overridden}[/dim]"
    )
    out.print(policy_view(policy))
