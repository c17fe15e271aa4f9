"""Automated plans firing for one customer at a time (SPEC section 5): the trigger engine
and the hook the customers worker wires it in with."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import structlog

from services.customers.firing.engine import TOPICS, TriggerEngine, firings_transactional_id

__all__ = [
    "CRASH_POINT_ENV",
    "TOPICS",
    "TriggerEngine",
    "crash_checkpoint",
    "firings_transactional_id",
]

log = structlog.get_logger(__name__)

# Test hook: the engine kills itself with SIGKILL at this point (after_firings_sent: the
# firings of a pass sent inside their transaction, not committed), to show a crash there
# neither loses nor duplicates a firing.
CRASH_POINT_ENV = "CRM_CUSTOMERS_CRASH_POINT"


def crash_checkpoint(point: str | None = None) -> Callable[[str], None]:
    """The checkpoint that SIGKILLs the process at `point` (default: $CRM_CUSTOMERS_CRASH_POINT)."""
    chosen = os.environ.get(CRASH_POINT_ENV) if point is None else point

    def checkpoint(name: str) -> None:
        if name == chosen:
            log.warning("crashing_on_purpose", point=name)
            os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint
