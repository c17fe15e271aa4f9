"""`crm soak`: start a fresh stack, drive the marketplace for N minutes while faults are
thrown at it, stop the traffic, let the system drain, check the committed output."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from demo.chat_simulator import ChatSimulator
from services import registry
from services.delivery.domain.reactions import ReactionRates
from services.eligibility.reader import latest_status
from services.policy import policy_of
from services.quota.port import frequency_cap_for
from services.shared.lag import consumer_lag
from soak.checker import check_all
from soak.collect import observe
from soak.faults import InjectedFault, parse_faults, run_faults, schedule
from soak.market import MARKET, Market
from soak.stack import Ports, Stack

# How stale delivery's view of a block or of a seller's access may be (see README "Soak").
FRESHNESS_BOUND = timedelta(seconds=60)
RATES = ReactionRates(read=0.5, click=0.2, block=0.03, fail=0.02, order=0.3)


@dataclass(frozen=True)
class SoakOptions:
    minutes: float
    seed: int
    faults: str = "all"
    brokers: int = 1
    output: Path | None = None
    ports: Ports = Ports()  # noqa: RUF009 - frozen, so one shared default is safe
    state_dir: Path | None = None
    keep_state: bool = False
    sellers: int = 4
    customers: int = 30


async def run_soak(options: SoakOptions, out: Console) -> dict[str, Any]:
    kinds = parse_faults(options.faults, options.brokers)
    state_dir = options.state_dir or Path(tempfile.mkdtemp(prefix="crm-soak-"))
    stack = Stack(state_dir, options.ports, options.brokers, f"soak{options.seed}.", _secret())
    seconds = options.minutes * 60
    planned = schedule(options.seed, seconds, kinds, registry.workers(), options.brokers)
    report: dict[str, Any] = {
        "seed": options.seed,
        "minutes": options.minutes,
        "brokers": options.brokers,
    }
    started_at = time.monotonic()
    out.print(
        f"soak: stack under {state_dir} "
        f"(Kafka :{options.ports.kafka}, Redis :{options.ports.redis})"
    )
    try:
        await stack.up()
        report["stack_up_seconds"] = round(time.monotonic() - started_at, 1)
        out.print(
            f"soak: stack ready in {report['stack_up_seconds']} s; {len(planned)} faults planned"
        )
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{options.ports.api}", timeout=30
        ) as http:
            report |= await _drive(stack, http, options, planned, out)
    finally:
        report["exit_codes"] = stack.down(keep=options.keep_state)
        # Violations (or a run that broke off) keep the logs and data for a look.
        keep = (
            options.keep_state or not report.get("violations") or any(report["violations"].values())
        )
        with contextlib.suppress(Exception):
            await stack.stop_infra(keep)
        if keep:
            out.print(f"soak: logs and data kept in {state_dir}")
    report["seconds"] = round(time.monotonic() - started_at, 1)
    out.print(_table(report))
    if options.output:
        options.output.write_text(json.dumps(report, indent=2, default=str))
        out.print(f"soak: written to {options.output}")
    return report


def _secret() -> str:
    from services.shared.settings import get_settings

    return get_settings().jwt_secret.get_secret_value()


async def _drive(
    stack: Stack, http: httpx.AsyncClient, options: SoakOptions, planned: list[Any], out: Console
) -> dict[str, Any]:
    settings = stack.settings
    market = Market(settings, http, options.seed, options.sellers, options.customers)
    months = await market.setup()
    for seller in market.active:
        for _ in range(240):
            status = await latest_status(settings, seller)
            if status is not None and status.effective_month == months[0]:
                break
            await asyncio.sleep(0.5)
    await asyncio.sleep(3)  # the customers worker projects the followers
    await market.recompute()
    stop_sim = asyncio.Event()
    simulator = asyncio.create_task(_simulate(settings, stop_sim))
    injected: list[InjectedFault] = []
    seconds = options.minutes * 60
    started = market.started = time.monotonic()
    faults = asyncio.create_task(run_faults(stack, planned, started, injected))
    exits: list[dict[str, object]] = []
    stop_supervisor = asyncio.Event()
    supervisor = asyncio.create_task(stack.supervise(stop_supervisor, exits))
    ticked_this_month = False
    last_recompute = started
    while (elapsed := time.monotonic() - started) < seconds:
        late = elapsed > seconds - 60
        steps = [market.customer_step() for _ in range(3)] + [market.seller_step(late)]
        await asyncio.gather(*(asyncio.wait_for(s, 60) for s in steps), return_exceptions=True)
        if not ticked_this_month and elapsed > seconds / 2:
            await market.tick(months[1])
            ticked_this_month = True
        if time.monotonic() - last_recompute > 30:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(market.report_metrics(), 60)
                await asyncio.wait_for(market.recompute(), 60)
            last_recompute = time.monotonic()
        await asyncio.sleep(0.5)
    out.print(
        f"soak: traffic over after {time.monotonic() - started:.0f} s; waiting for the faults"
    )
    await faults
    drain_started = time.monotonic()
    lag = await _drain(settings)
    stop_sim.set()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(simulator, 30)
    lag = await _drain(settings)
    await market.close()
    stop_supervisor.set()
    await supervisor
    out.print(f"soak: drained in {time.monotonic() - drain_started:.0f} s, lag {lag}; checking")
    sellers = set(market.customers)
    observed, counts = await observe(settings, market.calls, sellers)
    # The cap in force: the policy book's, for the market of the soak's sellers.
    cap = frequency_cap_for(policy_of(settings), MARKET)
    findings = check_all(observed, FRESHNESS_BOUND, cap.max_messages, cap.window)
    return {
        "violations": {f.invariant: f.violations for f in findings},
        "findings": [asdict(f) for f in findings],
        "faults": [f.as_dict() for f in injected],
        "faults_planned": [asdict(f) for f in planned],
        # Workers that died on their own (restarted by the soak's supervisor): findings.
        "unplanned_exits": exits,
        "freshness_bound_seconds": FRESHNESS_BOUND.total_seconds(),
        "events_published": dict(market.published),
        "publish_failures": market.publish_failures,
        "actions": dict(market.actions),
        "api_calls": len(market.calls),
        "api_statuses": _statuses(market.calls),
        "messages": len(observed.messages),
        "plans": len(observed.plans),
        **counts,
        "lag_after_drain": lag,
        "drain_seconds": round(time.monotonic() - drain_started, 1),
        "finished_at": datetime.now(UTC).isoformat(),
    }


async def _simulate(settings: Any, stop: asyncio.Event) -> None:
    """The chat system, reacting until stopped; restarted when a fault breaks it."""
    while not stop.is_set():
        simulator = ChatSimulator(settings, RATES, lambda: datetime.now(UTC))
        try:
            await simulator.run(stop)
        except Exception:
            await asyncio.sleep(2)


async def _drain(settings: Any, timeout: float = 300) -> int:
    """Wait until every consumer group's lag stops moving and is small (transaction
    markers leave a residual); the total lag then."""
    deadline = time.monotonic() + timeout
    previous, same = -1, 0
    total = -1
    while time.monotonic() < deadline:
        try:
            rows = await consumer_lag(settings)
            total = sum(r.lag for r in rows)  # a fresh stack: every group is the soak's
        except Exception:
            total = -1
        same = same + 1 if total == previous and total >= 0 else 0
        if same >= 3 and total <= 200:
            return total
        previous = total
        await asyncio.sleep(3)
    return total


def _statuses(calls: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in calls:
        key = "no answer" if call.status is None else str(call.status)
        counts[key] = counts.get(key, 0) + 1
    return counts


def _table(report: dict[str, Any]) -> Table:
    table = Table(
        "invariant", "checked", "violations", "examples", title=f"soak seed {report['seed']}"
    )
    for finding in report.get("findings", []):
        measured = ", ".join(f"{k} {v:.1f}" for k, v in finding["measured"].items())
        examples = "; ".join(finding["examples"][:2]) + (f" ({measured})" if measured else "")
        style = "red" if finding["violations"] else "green"
        table.add_row(
            finding["invariant"],
            str(finding["checked"]),
            f"[{style}]{finding['violations']}[/{style}]",
            examples,
        )
    faults = ", ".join(
        f"{f['kind']}{':' + f['target'] if f['target'] else ''}@{f['at']}s"
        + (" (failed)" if f["error"] else "")
        for f in report.get("faults", [])
    )
    table.caption = (
        f"faults: {faults or 'none'} | messages {report.get('messages')}, "
        f"plans {report.get('plans')}, unplanned exits {len(report.get('unplanned_exits', []))}, "
        f"API calls {report.get('api_calls')}, lag after drain {report.get('lag_after_drain')}, "
        f"{report.get('seconds')} s"
    )
    return table
