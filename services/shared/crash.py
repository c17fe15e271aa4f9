"""Test hooks that SIGKILL a worker at a named point, to show a crash there neither loses
nor duplicates anything. Off unless the worker's crash-point variable is set."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)

Checkpoint = Callable[[str], None]


def crash_checkpoint(env_name: str, point: str | None = None) -> Checkpoint:
    """The checkpoint that kills the process at `point` (default: the value of
    `env_name`). `name@N` kills the N-th time the point is reached (default the first)."""
    chosen = os.environ.get(env_name) if point is None else point
    name, _, nth = (chosen or "").partition("@")
    wanted = int(nth) if nth else 1
    reached = 0

    def checkpoint(at: str) -> None:
        nonlocal reached
        if not name or at != name:
            return
        reached += 1
        if reached == wanted:
            log.warning("crashing_on_purpose", point=at, reached=reached)
            os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint


class InjectedFailure(RuntimeError):
    """A handler failing on purpose, for no outage: what a poison pill looks like."""


FailureHook = Callable[[str], None]


def failure_hook(env_name: str) -> FailureHook:
    """The hook that raises InjectedFailure each time it is given the value of `env_name`
    (an event_id): a record the handler can never get past, to show the loop dead-letters
    it and goes on. Off unless the variable is set."""
    wanted = os.environ.get(env_name)

    def hook(event_id: str) -> None:
        if wanted and event_id == wanted:
            raise InjectedFailure(f"failing on purpose on event {event_id}")

    return hook
