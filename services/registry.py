"""Where the services plug into `crm`: each service package may provide

- `worker.py` with `main(settings) -> None` (blocking): `crm worker NAME`, started by `crm dev up`;
- `cli.py` with `register(app: typer.Typer) -> None`: its own subcommands;
- `demo.py` with `async def run(settings, out) -> None`: its chapter of `crm demo`;
- `bench.py` with `BENCHMARKS: dict[str, Benchmark]`: its entries in `crm bench`.

A service that has not landed yet simply has no such module.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

# Pipeline order: upstream services first (dev up starts them in this order).
SERVICES = ("eligibility", "quota", "outreach", "customers", "delivery")

# Each worker's /healthz, /readyz and /metrics in development; CRM_OPS_PORT overrides.
OPS_PORTS = {
    "eligibility": 9101,
    "quota": 9102,
    "outreach": 9103,
    "delivery": 9104,
    "customers": 9105,
}


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
