"""Dead-lettering for faust agents: the faust twin of DeadLetteringConsumer.

Input topics are declared with `value_serializer="raw"`; an agent iterates
`decoded(stream, …)` and receives only valid events, while every bad record is
written to crm.dead-letters with its reason and the stream goes on.

    @app.agent(metrics_topic)
    async def ingest(stream):
        async for event in decoded(stream, "crm.seller-metrics", dead_letters, service="elig"):
            ...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog

from schemas.envelope import Event
from services.shared.codec import DecodeError, decode, encode
from services.shared.dead_letters import dead_letter_for
from services.shared.metrics import DEAD_LETTERS, EVENTS_CONSUMED, EVENTS_RETRIED
from services.shared.rejection import Rejected

log = structlog.get_logger(__name__)


async def _dead_letter(
    message: Any, dead_letters: Any, reason: str, service: str, topic: str
) -> None:
    log.warning(
        "dead_letter",
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        error=reason,
    )
    DEAD_LETTERS.labels(service, topic).inc()
    letter = dead_letter_for(
        message, error=reason, service=service, timestamp_ms=int(message.timestamp * 1000)
    )
    await dead_letters.send(value=encode(letter))


async def _valid(
    stream: Any, topic: str, dead_letters: Any, service: str, max_bytes: int
) -> AsyncIterator[tuple[Any, Event]]:
    """(message, event) for every valid record; bad ones are dead-lettered on the way."""
    async for record in stream.events():
        message = record.message
        try:
            event = decode(topic, message.value, max_bytes=max_bytes)
        except DecodeError as exc:
            await _dead_letter(message, dead_letters, exc.reason, service, topic)
            continue
        EVENTS_CONSUMED.labels(service, topic, event.event_type).inc()
        yield message, event


async def decoded(
    stream: Any,
    topic: str,
    dead_letters: Any,
    *,
    service: str,
    max_bytes: int = 64 * 1024,
) -> AsyncIterator[Event]:
    """Valid events of registry topic `topic` from a raw faust stream."""
    async for _, event in _valid(stream, topic, dead_letters, service, max_bytes):
        yield event


async def settled(
    message: Any,
    call: Callable[[], Awaitable[None]],
    dead_letters: Any,
    *,
    service: str,
    topic: str,
    attempts: int = 5,
    delay: float = 0.2,
) -> None:
    """Run `call` for `message`; a failure is retried with backoff, and one that outlasts
    `attempts` dead-letters the message with its reason. Why not let it raise: faust
    acknowledges the event an agent raised on, so the event would be lost unseen."""
    for attempt in range(1, attempts + 1):
        try:
            await call()
            return
        except Rejected as exc:
            await _dead_letter(message, dead_letters, exc.reason, service, topic)
            return
        except Exception as exc:
            if attempt == attempts:
                log.exception("handler_failed", topic=message.topic, offset=message.offset)
                reason = f"unhandled {type(exc).__name__} after {attempts} attempts: {exc}"
                await _dead_letter(message, dead_letters, reason, service, topic)
                return
            EVENTS_RETRIED.labels(service, topic).inc()
            log.warning("handler_retried", topic=message.topic, error=repr(exc), attempt=attempt)
            await asyncio.sleep(delay * 2 ** (attempt - 1))


async def handled(
    stream: Any,
    topic: str,
    dead_letters: Any,
    handle: Callable[[Event], Awaitable[None]],
    *,
    service: str,
    max_bytes: int = 64 * 1024,
    attempts: int = 5,
    delay: float = 0.2,
) -> None:
    """Hand every valid event of `topic` to `handle`; dead-letter bad records, the events
    `handle` refuses by raising Rejected and those it keeps failing on, and go on."""
    async for message, event in _valid(stream, topic, dead_letters, service, max_bytes):
        await settled(
            message,
            lambda: handle(event),  # noqa: B023  # awaited before the loop moves on
            dead_letters,
            service=service,
            topic=topic,
            attempts=attempts,
            delay=delay,
        )
