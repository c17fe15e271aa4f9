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
from services.shared.admission import Plausibility, admit
from services.shared.codec import DecodeError, encode
from services.shared.dead_letters import dead_letter_for
from services.shared.failure_policy import RetryPolicy, is_outage, settle
from services.shared.metrics import (
    BATCHES_RETRIED,
    DEAD_LETTERS,
    EVENTS_CONSUMED,
    EVENTS_REPEATED,
    EVENTS_RETRIED,
)
from services.shared.seen_events import RecentEvents, Seen, conflict_reason

log = structlog.get_logger(__name__)
DEFAULT_PLAUSIBILITY = Plausibility()


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
    stream: Any, topic: str, dead_letters: Any, service: str, max_bytes: int, rule: Plausibility
) -> AsyncIterator[tuple[Any, Event]]:
    """(message, event) for every admitted record (services/shared/admission.py) whose
    event_id is new (seen_events.py); bad ones are dead-lettered on the way, exact
    repeats skipped."""
    recent = RecentEvents()
    async for record in stream.events():
        message = record.message
        try:
            event = admit(
                topic,
                message.value,
                key=message.key,
                timestamp_ms=int(message.timestamp * 1000),
                max_bytes=max_bytes,
                rule=rule,
            )
        except DecodeError as exc:
            await _dead_letter(message, dead_letters, exc.reason, service, topic)
            continue
        verdict = recent.sift(event)
        if verdict is Seen.REPEAT:
            EVENTS_REPEATED.labels(service, topic).inc()
            continue
        if verdict is Seen.CONFLICT:
            await _dead_letter(message, dead_letters, conflict_reason(event), service, topic)
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
    rule: Plausibility = DEFAULT_PLAUSIBILITY,
) -> AsyncIterator[Event]:
    """Valid events of registry topic `topic` from a raw faust stream."""
    async for _, event in _valid(stream, topic, dead_letters, service, max_bytes, rule):
        yield event


async def settled(
    message: Any,
    call: Callable[[], Awaitable[None]],
    dead_letters: Any,
    *,
    service: str,
    topic: str,
    attempts: int = RetryPolicy.attempts,
    delay: float = RetryPolicy.first_delay,
) -> None:
    """Run `call` for `message` under the shared failure policy (failure_policy.py): retried
    with backoff, then dead-lettered with the reason. Why not let it raise: faust
    acknowledges the event an agent raised on, so the event would be lost unseen. An
    outage (Redis, Kafka, sockets) is waited out here for the same reason."""
    policy = RetryPolicy(attempts=attempts, first_delay=delay)
    outages = 0
    while True:
        try:
            reason = await settle(
                call,
                policy,
                on_retry=lambda exc, attempt: EVENTS_RETRIED.labels(service, topic).inc(),
            )
        except Exception as exc:
            if not is_outage(exc):
                raise
            outages += 1
            BATCHES_RETRIED.labels(service).inc()
            log.warning("handler_outage", topic=message.topic, error=repr(exc), times=outages)
            await asyncio.sleep(policy.delay(min(outages, 6)))
            continue
        if reason is not None:
            await _dead_letter(message, dead_letters, reason, service, topic)
        return


async def handled(
    stream: Any,
    topic: str,
    dead_letters: Any,
    handle: Callable[[Event], Awaitable[None]],
    *,
    service: str,
    max_bytes: int = 64 * 1024,
    attempts: int = RetryPolicy.attempts,
    delay: float = RetryPolicy.first_delay,
    rule: Plausibility = DEFAULT_PLAUSIBILITY,
) -> None:
    """Hand every valid event of `topic` to `handle`; dead-letter bad records, the events
    `handle` refuses by raising Rejected and those it keeps failing on, and go on."""
    async for message, event in _valid(stream, topic, dead_letters, service, max_bytes, rule):
        await settled(
            message,
            lambda: handle(event),  # noqa: B023  # awaited before the loop moves on
            dead_letters,
            service=service,
            topic=topic,
            attempts=attempts,
            delay=delay,
        )
