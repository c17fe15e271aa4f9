"""The garbage collector's settings for long-running processes.

A worker or the API holds many objects for its whole life (modules, schemas, state read
back at start) and makes many short-lived ones per record or request. With the defaults
the collector runs often and each full collection walks everything that lives: ~15 % of
a fan-out's or an eligibility batch's CPU (py-spy), and pauses the API long enough to
queue requests behind them.
"""

from __future__ import annotations

import gc


def collect_young_garbage_less_often() -> None:
    """A young collection every 100,000 allocations net, older ones rarely."""
    gc.set_threshold(100_000, 50, 100)


def freeze_what_lives_forever() -> None:
    """Keep everything alive now out of later collections' walk: call once started, and
    again after loading state that lives as long as the process."""
    gc.freeze()
