"""Running many script calls as one Redis pipeline, and doing so automatically for
the calls made in one event-loop turn.

Each call still runs as its own atomic script; only the round trip and the
client's per-command bookkeeping are shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from services.quota.batched_calls import PerTurn

ScriptCall = tuple[AsyncScript, Sequence[Any], Sequence[Any]]
"""A script with its keys and arguments."""


async def run_scripts(redis: aioredis.Redis, calls: Sequence[ScriptCall]) -> list[Any]:
    """Every call's reply, or its error, in order."""
    # EVALSHA straight on the pipeline: going through the Script objects would
    # add a SCRIPT EXISTS round trip to every pipeline.
    pipe = redis.pipeline(transaction=False)
    for script, keys, args in calls:
        pipe.evalsha(script.sha, len(keys), *keys, *args)
    results = list(await pipe.execute(raise_on_error=False))
    for n, ((script, keys, args), result) in enumerate(zip(calls, results, strict=True)):
        if isinstance(result, NoScriptError):
            # Redis restarted and forgot the scripts: the Script object reloads it.
            try:
                results[n] = await script(keys=keys, args=args)
            except Exception as exc:
                results[n] = exc
    return results


class AutoPipeline:
    """`await pipeline(script, keys, args)`: calls of one loop turn share a pipeline."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._calls: PerTurn[ScriptCall, Any] = PerTurn(self._pipeline)

    async def __call__(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        return await self._calls((script, keys, args))

    async def _pipeline(self, calls: list[ScriptCall]) -> list[Any]:
        return await run_scripts(self._redis, calls)
