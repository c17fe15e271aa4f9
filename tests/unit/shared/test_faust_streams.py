"""`settled`: what a faust agent does with an event its handler fails on. faust acks
the event an agent raised on, so raising would lose it; these pin the alternative."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from services.shared.faust_streams import settled
from services.shared.rejection import Rejected


@dataclass
class Message:
    topic: str = "t.crm.seller-metrics"
    partition: int = 2
    offset: int = 41
    key: bytes | None = b"s-1"
    value: bytes | None = b'{"event_type": "SellerMetricsReported"}'
    timestamp: float = 1_790_000_000.0


@dataclass
class DeadLetters:
    """Stands in for the faust topic object: records what `send` was given."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, *, value: bytes) -> None:
        self.sent.append(json.loads(value))


class Failing:
    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)


async def _settle(call: Failing, letters: DeadLetters) -> None:
    await settled(
        Message(), call, letters, service="eligibility", topic="crm.seller-metrics", delay=0
    )


async def test_a_passing_failure_is_retried_and_nothing_is_dead_lettered() -> None:
    call, letters = Failing(RuntimeError("metadata"), RuntimeError("metadata")), DeadLetters()
    await _settle(call, letters)
    assert call.calls == 3
    assert letters.sent == []


async def test_a_lasting_failure_is_dead_lettered_with_its_reason() -> None:
    call, letters = Failing(*(KeyError("gone") for _ in range(5))), DeadLetters()
    await _settle(call, letters)
    assert call.calls == 5
    [letter] = letters.sent
    assert letter["error"] == "unhandled KeyError after 5 attempts: 'gone'"
    assert (letter["source_topic"], letter["partition"], letter["offset"]) == (
        "t.crm.seller-metrics",
        2,
        41,
    )
    assert letter["service"] == "eligibility"


async def test_a_refusal_is_dead_lettered_at_once() -> None:
    call, letters = Failing(Rejected("appeal for an unknown seller")), DeadLetters()
    await _settle(call, letters)
    assert call.calls == 1
    assert [letter["error"] for letter in letters.sent] == ["appeal for an unknown seller"]
