"""Redis commands packed by hiredis (C) rather than redis-py's asyncio packer (Python).

redis-py's synchronous client packs with hiredis when it is installed; its asyncio
client does not, and at delivery's volume (three or four arguments per recipient, a
million recipients per plan) the Python packer was a third of the worker's CPU.
"""

from __future__ import annotations

from typing import Any, cast

import hiredis
import redis.asyncio as aioredis
from redis.exceptions import DataError

from services.shared.settings import Settings


class HiredisPackingConnection(aioredis.Connection):
    def pack_command(self, *args: Any) -> list[bytes]:
        # The same steps as redis-py's HiredisRespSerializer: a command given with its
        # subcommand in one string ("CONFIG GET") goes as separate arguments.
        if isinstance(args[0], str):
            args = tuple(args[0].encode().split()) + args[1:]
        elif b" " in args[0]:
            args = tuple(args[0].split()) + args[1:]
        try:
            # hiredis's stub types the argument as a 1-tuple; it takes any length.
            return [hiredis.pack_command(cast(Any, args))]
        except TypeError:
            pass
        # Rare: a bytearray argument, which hiredis does not take as it is.
        packed = tuple(bytes(a) if isinstance(a, bytearray) else a for a in args)
        try:
            return [hiredis.pack_command(cast(Any, packed))]
        except TypeError as exc:
            raise DataError(str(exc)) from exc


def bytes_redis(settings: Settings, *, max_connections: int = 50) -> aioredis.Redis:
    """A client with bytes in and out, its commands packed by hiredis: for the workers that
    write or read Redis by the million (the customers projection, delivery's fan-out)."""
    return aioredis.Redis.from_url(
        settings.redis_url,
        decode_responses=False,
        max_connections=max_connections,
        connection_class=HiredisPackingConnection,
    )
