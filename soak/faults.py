"""Faults at seeded random moments: the schedule is a pure function of the seed; the
injector runs them one after another against the soak's own stack."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import asdict, dataclass
from typing import Any

from soak.stack import Stack

# kill: kill -9 of each service's worker in turn (then restarted, as a supervisor would).
FAULT_KINDS = (
    "kill",
    "broker_restart",
    "redis_restart",
    "flushall",
    "redis_pause",
    "broker_stop",
)
# Longer than redis-py's 5 s socket timeout, so clients time out and retry.
PAUSE_MS = 7000
# How long a stopped broker of the three stays away.
BROKER_AWAY_SECONDS = 20.0


@dataclass(frozen=True)
class PlannedFault:
    at: float
    """Seconds after the traffic starts."""
    kind: str
    target: str | None = None


def parse_faults(text: str, brokers: int) -> list[str]:
    if text == "all":
        kinds = [k for k in FAULT_KINDS if brokers == 3 or k != "broker_stop"]
    else:
        kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise ValueError(f"unknown faults {unknown}; known: {', '.join(FAULT_KINDS)}")
    if "broker_stop" in kinds and brokers != 3:
        raise ValueError("broker_stop needs --brokers 3")
    return kinds


def schedule(
    seed: int, seconds: float, kinds: list[str], services: list[str], brokers: int
) -> list[PlannedFault]:
    """Each fault once (kill once per service), in a seeded order, at seeded moments
    between 10 % and 75 % of the run: the last quarter is quiet so the system settles."""
    rng = random.Random(seed)
    faults: list[tuple[str, str | None]] = []
    for kind in kinds:
        if kind == "kill":
            faults += [("kill", name) for name in services]
        elif kind == "broker_stop" or (kind == "broker_restart" and brokers == 3):
            faults.append((kind, str(rng.randint(1, brokers))))
        else:
            faults.append((kind, None))
    rng.shuffle(faults)
    if not faults:
        return []
    start, end = 0.10 * seconds, 0.75 * seconds
    slot = (end - start) / len(faults)
    return [
        PlannedFault(round(start + i * slot + rng.uniform(0, slot * 0.5), 1), kind, target)
        for i, (kind, target) in enumerate(faults)
    ]


@dataclass
class InjectedFault:
    at: float
    kind: str
    target: str | None
    seconds: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def inject(stack: Stack, kind: str, target: str | None) -> None:
    if kind == "kill":
        assert target is not None
        await stack.restart(target)
    elif kind == "broker_restart":
        node = int(target) if target else None
        await stack.kafka("stop", node)
        await stack.kafka("start", node)
    elif kind == "broker_stop":
        node = int(target or 1)
        await stack.kafka("stop", node)
        await asyncio.sleep(BROKER_AWAY_SECONDS)
        await stack.kafka("start", node)
    elif kind == "redis_restart":
        await stack.script("redis/redis.sh", "stop")
        await stack.script("redis/redis.sh", "start")
    elif kind == "flushall":
        await stack.redis_cli("FLUSHALL")
    elif kind == "redis_pause":
        await stack.redis_cli("CLIENT", "PAUSE", str(PAUSE_MS), "ALL")
        await asyncio.sleep(PAUSE_MS / 1000)
    else:
        raise ValueError(kind)


async def run_faults(
    stack: Stack, planned: list[PlannedFault], started: float, done: list[InjectedFault]
) -> None:
    """One after another, each at its moment (later when the previous one overran)."""
    for fault in planned:
        delay = started + fault.at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        at = time.monotonic() - started
        error = None
        try:
            await inject(stack, fault.kind, fault.target)
        except Exception as exc:  # a fault that could not be thrown is reported, not fatal
            error = f"{type(exc).__name__}: {exc}"[:500]
        done.append(
            InjectedFault(
                round(at, 1),
                fault.kind,
                fault.target,
                round(time.monotonic() - started - at, 1),
                error,
            )
        )
