"""Automated plans firing for one customer at a time (SPEC section 5): the trigger engine
and the hook the customers worker wires it in with."""

from __future__ import annotations

from collections.abc import Callable

from services.customers.firing.trigger_engine import TOPICS, TriggerEngine, firings_transactional_id
from services.shared.crash import crash_checkpoint as shared_crash_checkpoint

__all__ = [
    "CRASH_POINT_ENV",
    "TOPICS",
    "TriggerEngine",
    "crash_checkpoint",
    "firings_transactional_id",
]

# Test hook: the engine kills itself with SIGKILL at this point (after_firings_sent: the
# firings of a pass sent inside their transaction, not committed), to show a crash there
# neither loses nor duplicates a firing.
CRASH_POINT_ENV = "CRM_CUSTOMERS_CRASH_POINT"


def crash_checkpoint(point: str | None = None) -> Callable[[str], None]:
    """The checkpoint that SIGKILLs the process at `point` (default: $CRM_CUSTOMERS_CRASH_POINT)."""
    return shared_crash_checkpoint(CRASH_POINT_ENV, point)
