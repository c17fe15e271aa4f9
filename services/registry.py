"""Where the services and the tools around them plug into `crm`. Each service package may
provide

- `worker.py` with `main(settings) -> None` (blocking): `crm worker NAME`, started by `crm dev up`;
- `cli.py` with `register(app: typer.Typer) -> None`: its own subcommands.

A service that has not landed yet simply has no such module. The demo chapters, the
benchmarks and the soak are top-level packages (demo/, bench/, soak/) outside services/: they
do not ship inside a service and no worker imports them. They are named here as strings, in
pipeline order, and imported only when `crm demo` or `crm bench` runs.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

# Pipeline order: upstream services first (dev up starts them in this order).
SERVICES = ("eligibility", "quota", "outreach", "customers", "delivery")

# Each worker's /healthz, /readyz and /metrics under `crm dev up`: CRM_OPS_PORT_BASE
# (9100) plus the worker's offset, so a second stack on one machine moves them all at once.
OPS_PORT_OFFSETS = {
    "eligibility": 1,
    "quota": 2,
    "outreach": 3,
    "delivery": 4,
    "customers": 5,
}
DEFAULT_OPS_PORT_BASE = 9100
OPS_PORTS = {name: DEFAULT_OPS_PORT_BASE + offset for name, offset in OPS_PORT_OFFSETS.items()}


# `crm demo`'s chapters after the basics: each module has `async def run(settings, out) -> None`.
DEMO_CHAPTERS = ("eligibility", "quota", "outreach", "customers", "delivery")
# `crm bench`'s entries after the baselines: each module has `BENCHMARKS: dict[str, Benchmark]`.
BENCH_MODULES = ("eligibility", "quota", "outreach", "customers", "delivery", "delivery_sharded")
# Commands of the tools outside services/ (`crm demo`, `crm chat simulate`, `crm bench`,
# `crm soak`): each module has `register(app)`, as a service's cli.py does.
TOOL_CLIS = ("demo.cli", "demo.chat_cli", "bench.cli", "soak.cli")


def ops_port(service: str, base: int = DEFAULT_OPS_PORT_BASE) -> int:
    return base + OPS_PORT_OFFSETS[service]


def part(service: str, name: str) -> ModuleType | None:
    """services.<service>.<name>, or None when that service does not provide it."""
    qualified = f"services.{service}.{name}"
    if importlib.util.find_spec(f"services.{service}") is None:
        return None
    if importlib.util.find_spec(qualified) is None:
        return None
    # Import errors inside an existing module are bugs, not absence: let them raise.
    return importlib.import_module(qualified)


def parts(name: str) -> list[tuple[str, ModuleType]]:
    found = []
    for service in SERVICES:
        module = part(service, name)
        if module is not None:
            found.append((service, module))
    return found


def demo_chapters() -> list[tuple[str, ModuleType]]:
    """(title, module) of every chapter of `crm demo` after the basics, in order."""
    return [(name, importlib.import_module(f"demo.{name}")) for name in DEMO_CHAPTERS]


def bench_modules() -> list[ModuleType]:
    return [importlib.import_module(f"bench.{name}") for name in BENCH_MODULES]


def tool_clis() -> list[ModuleType]:
    return [importlib.import_module(name) for name in TOOL_CLIS]


def workers() -> list[str]:
    return [
        s
        for s in SERVICES
        if importlib.util.find_spec(f"services.{s}") is not None
        and importlib.util.find_spec(f"services.{s}.worker") is not None
    ]


def servers() -> dict[str, list[str]]:
    """Long-running `crm` commands besides the workers that `crm dev up` starts (name ->
    arguments): the seller-facing API once outreach provides it."""
    if part("outreach", "cli") is None:
        return {}
    return {"api": ["api"]}
