"""The soak's invariants: pure functions over records decoded from the committed topics
and Redis. Each returns a `Finding` (violations and a few examples); `check_all` runs them
all. No Kafka, Redis or clock here; times are the records' broker timestamps."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

LIVE_OR_TERMINAL = frozenset(
    {"scheduled", "completed", "ongoing", "ended", "cancelled", "rejected"}
)
HOLDS_A_UNIT = frozenset({"scheduled", "sending", "completed"})


@dataclass(frozen=True)
class Message:
    plan_id: str
    plan_type: str
    seller_id: str
    customer_id: str
    at: datetime


@dataclass(frozen=True)
class Change:
    """A state change of a key at a moment: a block (True) or unblock of (seller,
    customer), or a seller's access becoming active (True) or not."""

    key: tuple[str, ...]
    on: bool
    at: datetime


@dataclass(frozen=True)
class PlanFinal:
    plan_id: str
    seller_id: str
    type: str
    status: str
    submitted: bool
    recipients: int | None = None
    sent: int | None = None
    suppressed: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LedgerEntry:
    seller_id: str
    plan_id: str
    counter: str
    """A week (2026-W49) or 'campaign:<id>'."""
    reserved: bool
    limit: int


@dataclass(frozen=True)
class ApiCall:
    method: str
    path: str
    status: int | None
    """None: no answer (a transport error or a timeout)."""
    retry_after: str | None = None
    error: str | None = None
    at: float | None = None
    """Seconds after the traffic started."""


@dataclass(frozen=True)
class Finding:
    invariant: str
    violations: int
    checked: int
    examples: tuple[str, ...] = ()
    measured: Mapping[str, float] = field(default_factory=dict)


def _finding(invariant: str, bad: Sequence[str], checked: int, **measured: float) -> Finding:
    return Finding(invariant, len(bad), checked, tuple(bad[:5]), measured)


def one_message_per_pair(messages: Iterable[Message]) -> Finding:
    pairs = Counter((m.plan_id, m.customer_id) for m in messages)
    bad = [f"{p}/{c} ×{n}" for (p, c), n in pairs.items() if n > 1]
    return _finding("one message per (plan, customer)", bad, len(pairs))


def held_throughout(changes: Sequence[Change], start: datetime, end: datetime, on: bool) -> bool:
    """The key was `on` (or off) over all of [start, end]: so at `start` (before any change
    it is off) and no change to the other state up to `end`. `changes` sorted by time."""
    state = False
    for change in changes:
        if change.at > start:
            if change.at <= end and change.on != on:
                return False
            continue
        state = change.on
    return state == on


def _by_key(changes: Iterable[Change]) -> dict[tuple[str, ...], list[Change]]:
    grouped: dict[tuple[str, ...], list[Change]] = defaultdict(list)
    for change in changes:
        grouped[change.key].append(change)
    for items in grouped.values():
        items.sort(key=lambda c: c.at)
    return grouped


def _staleness(changes: Sequence[Change], at: datetime) -> float:
    """Seconds since the key last turned on before `at`, when it was on then; else 0."""
    last = None
    for change in changes:
        if change.at > at:
            break
        last = change
    return (at - last.at).total_seconds() if last is not None and last.on else 0.0


def no_message_to_blocker(
    messages: Iterable[Message], blocks: Iterable[Change], bound: timedelta
) -> Finding:
    """A customer who blocked the shop at b, with no unblock since, gets nothing sent
    after b + bound. The freshness measured: the longest time a message went out after
    its customer's still-standing block."""
    by_pair = _by_key(blocks)
    bad: list[str] = []
    worst = 0.0
    checked = 0
    for m in messages:
        changes = by_pair.get((m.seller_id, m.customer_id))
        if not changes:
            continue
        checked += 1
        stale = _staleness(changes, m.at)
        worst = max(worst, stale)
        if held_throughout(changes, m.at - bound, m.at, on=True):
            bad.append(f"{m.plan_id} → {m.customer_id}: blocked {stale:.1f}s before")
    return _finding(
        "no message to a customer who blocked the shop", bad, checked, freshness_seconds=worst
    )


def no_message_from_inactive(
    messages: Iterable[Message], access: Iterable[Change], bound: timedelta
) -> Finding:
    """A seller not active over all of [t − bound, t] (never active counts) sends nothing
    at t. `access` changes are keyed (seller,), on = active."""
    by_seller = _by_key(access)
    bad: list[str] = []
    checked = 0
    for m in messages:
        checked += 1
        if held_throughout(by_seller.get((m.seller_id,), []), m.at - bound, m.at, on=False):
            bad.append(f"{m.plan_id} → {m.customer_id} from {m.seller_id}")
    return _finding("no message from a seller who was not active", bad, checked)


def within_cap(
    messages: Iterable[Message], cap: int = 2, window: timedelta = timedelta(days=7)
) -> Finding:
    by_pair: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for m in messages:
        by_pair[(m.seller_id, m.customer_id)].append(m.at)
    bad = []
    for (seller, customer), times in by_pair.items():
        times.sort()
        busiest = max(
            sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times)
        )
        if busiest > cap:
            bad.append(f"{seller} → {customer}: {busiest} in {window.days} days")
    name = f"at most {cap} messages per customer and seller in {window.days} days"
    return _finding(name, bad, len(by_pair))


def one_time_within_quota(plans: Iterable[PlanFinal], ledger: Iterable[LedgerEntry]) -> Finding:
    """Per seller and week, one-time plans holding a unit (scheduled, sending, completed)
    ≤ the week's limit (the highest the ledger recorded: a level change never cancels)."""
    weeks: dict[str, str] = {}
    limits: dict[tuple[str, str], int] = defaultdict(int)
    for entry in ledger:
        if entry.counter.startswith("campaign:"):
            continue
        weeks[entry.plan_id] = entry.counter
        limits[(entry.seller_id, entry.counter)] = max(
            limits[(entry.seller_id, entry.counter)], entry.limit
        )
    held: Counter[tuple[str, str]] = Counter()
    bad: list[str] = []
    for plan in plans:
        if plan.type != "one_time" or plan.status not in HOLDS_A_UNIT:
            continue
        week = weeks.get(plan.plan_id)
        if week is None:
            bad.append(f"{plan.plan_id} {plan.status} with no unit in the ledger")
            continue
        held[(plan.seller_id, week)] += 1
    for (seller, week), n in held.items():
        if n > limits[(seller, week)]:
            bad.append(f"{seller} {week}: {n} one-time plans, limit {limits[(seller, week)]}")
    return _finding("one-time plans per seller and week ≤ quota", bad, len(held))


def plans_settled(plans: Iterable[PlanFinal], messages: Iterable[Message]) -> Finding:
    """Every submitted plan is live or terminal; a completed plan's counts add up and
    equal the messages committed for it."""
    sent = Counter(m.plan_id for m in messages)
    bad: list[str] = []
    checked = 0
    for plan in plans:
        if not plan.submitted:
            continue
        checked += 1
        if plan.status not in LIVE_OR_TERMINAL:
            bad.append(f"{plan.plan_id} ({plan.type}) left {plan.status}")
        elif plan.status == "completed":
            suppressed = sum(plan.suppressed.values())
            if plan.recipients != (plan.sent or 0) + suppressed:
                bad.append(
                    f"{plan.plan_id}: {plan.recipients} recipients ≠ "
                    f"{plan.sent} sent + {suppressed} suppressed"
                )
            elif plan.sent != sent[plan.plan_id]:
                bad.append(f"{plan.plan_id}: says {plan.sent} sent, {sent[plan.plan_id]} committed")
    return _finding("submitted plans settled, counts consistent", bad, checked)


def nothing_dead_lettered(dead_letters: Sequence[str]) -> Finding:
    """Every input the soak sends is valid: any dead letter is a violation."""
    return _finding("no valid input dead-lettered", list(dead_letters), len(dead_letters))


def ledger_counts(ledger: Iterable[LedgerEntry]) -> dict[tuple[str, str], int]:
    """Units used per (seller, counter): plans whose last ledger fact is a reservation."""
    last: dict[tuple[str, str, str], bool] = {}
    for entry in ledger:
        last[(entry.seller_id, entry.counter, entry.plan_id)] = entry.reserved
    used: Counter[tuple[str, str]] = Counter()
    for (seller, counter, _plan), reserved in last.items():
        used[(seller, counter)] += 0
        if reserved:
            used[(seller, counter)] += 1
    return dict(used)


def counters_match_ledger(
    ledger: Iterable[LedgerEntry], counters: Mapping[tuple[str, str], int]
) -> Finding:
    expected = ledger_counts(ledger)
    bad = [
        f"{seller} {counter}: Redis {counters.get((seller, counter), 0)}, ledger {n}"
        for (seller, counter), n in sorted(expected.items())
        if counters.get((seller, counter), 0) != n
    ]
    bad += [
        f"{seller} {counter}: Redis {n}, nothing in the ledger"
        for (seller, counter), n in sorted(counters.items())
        if (seller, counter) not in expected and n
    ]
    return _finding("quota counters equal the ledger", bad, len(expected))


def api_answered(calls: Sequence[ApiCall]) -> Finding:
    """Every request answered; no 5xx but the documented 503 with Retry-After."""
    bad = [
        f"{c.method} {c.path}: {c.error or 'no answer' if c.status is None else c.status}"
        + (f" at {c.at:.0f}s" if c.at is not None else "")
        for c in calls
        if c.status is None or (c.status >= 500 and not (c.status == 503 and c.retry_after))
    ]
    return _finding("every API request answered, no 5xx but 503 + Retry-After", bad, len(calls))


@dataclass(frozen=True)
class Observed:
    messages: Sequence[Message]
    blocks: Sequence[Change]
    access: Sequence[Change]
    plans: Sequence[PlanFinal]
    ledger: Sequence[LedgerEntry]
    counters: Mapping[tuple[str, str], int]
    dead_letters: Sequence[str]
    api_calls: Sequence[ApiCall]


def check_all(
    observed: Observed, bound: timedelta, cap: int = 2, window: timedelta = timedelta(days=7)
) -> list[Finding]:
    return [
        one_message_per_pair(observed.messages),
        no_message_to_blocker(observed.messages, observed.blocks, bound),
        no_message_from_inactive(observed.messages, observed.access, bound),
        one_time_within_quota(observed.plans, observed.ledger),
        within_cap(observed.messages, cap, window),
        plans_settled(observed.plans, observed.messages),
        nothing_dead_lettered(observed.dead_letters),
        counters_match_ledger(observed.ledger, observed.counters),
        api_answered(observed.api_calls),
    ]
