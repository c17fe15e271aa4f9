"""Dead letters an operator can act on: read crm.dead-letters, group them by reason and
service, and re-drive the ones that now pass validation back to their source topic.

Re-driving is idempotent: each re-sent record and a DeadLetterRedriven keyed by the dead
letter's id (compacted crm.dead-letter-redrives) are written in one Kafka transaction,
and letters already recorded there are skipped. The transactional producer is started
before the record of what was re-driven is read: starting it fences (aborts) a redrive
still running elsewhere under the same transactional id, so two operators cannot both
send a letter.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from schemas.dead_letter import DeadLetter, DeadLetterRedriven
from schemas.topics import ALL_TOPICS, record_key
from schemas.topics import topic as registry_topic
from services.shared.codec import DecodeError, decode, encode
from services.shared.dead_letter_reasons import letter_reason
from services.shared.dead_letters import RAW_LIMIT
from services.shared.kafka import create_topics, new_producer
from services.shared.replay import replay
from services.shared.settings import Settings

DEAD_LETTERS = "crm.dead-letters"
REDRIVES = "crm.dead-letter-redrives"
# Header on a re-driven record naming the dead letter it came from.
REDRIVE_HEADER = "crm-redrive-of"
_REGISTRY = {spec.name for spec in ALL_TOPICS}
_TRUNCATED = "…[truncated "
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
TRANSACTION_SIZE = 500


def parse_since(text: str, now: datetime) -> datetime:
    """`30m`, `2h`, `7d` (ago), or an ISO 8601 time (UTC when it has no offset)."""
    if match := _DURATION.match(text.strip()):
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def select(
    letters: Iterable[DeadLetter],
    settings: Settings,
    *,
    topic: str | None = None,
    since: datetime | None = None,
    reason: str | None = None,
) -> list[DeadLetter]:
    """Letters of a source topic (registry name), written since `since`, whose reason
    category or error text contains `reason` (case-insensitive)."""
    found = []
    for letter in letters:
        if topic is not None and settings.logical_topic(letter.source_topic) != topic:
            continue
        if since is not None and letter.occurred_at < since:
            continue
        if reason is not None and not (
            reason.lower() in letter_reason(letter).lower()
            or reason.lower() in letter.error.lower()
        ):
            continue
        found.append(letter)
    return found


def counts(letters: Iterable[DeadLetter]) -> Counter[tuple[str, str]]:
    """How many letters per (reason, service)."""
    return Counter((letter_reason(letter), letter.service) for letter in letters)


def find(letters: Sequence[DeadLetter], ident: str) -> DeadLetter | None:
    """The letter with this event_id (a unique prefix is enough)."""
    matches = [letter for letter in letters if str(letter.event_id).startswith(ident.lower())]
    return matches[0] if len(matches) == 1 else None


@dataclass(frozen=True)
class Verdict:
    letter: DeadLetter
    # "redrive": passes validation now; "done": re-driven before; "invalid": still refused.
    outcome: str
    detail: str = ""


def judge(letter: DeadLetter, settings: Settings, done: set[str]) -> Verdict:
    """Would the record pass its topic's validation today, and may it be re-driven?"""
    if str(letter.event_id) in done:
        return Verdict(letter, "done", "re-driven before")
    logical = settings.logical_topic(letter.source_topic)
    if logical not in _REGISTRY:
        return Verdict(letter, "invalid", f"{logical} is not a registry topic")
    if _TRUNCATED in letter.raw:
        return Verdict(letter, "invalid", f"raw value was cut at {RAW_LIMIT} bytes")
    try:
        event = decode(logical, letter.raw.encode(), max_bytes=settings.max_event_bytes)
    except DecodeError as exc:
        return Verdict(letter, "invalid", exc.reason)
    except KeyError as exc:
        return Verdict(letter, "invalid", str(exc))
    key_field = registry_topic(logical).key_field
    if key_field is not None and letter.key != record_key(event, key_field):
        return Verdict(letter, "invalid", f"key {letter.key!r} is not its {key_field}")
    return Verdict(letter, "redrive", "passes validation now")


async def load_letters(settings: Settings) -> list[DeadLetter]:
    """Every dead letter, oldest first; a record dead-lettered twice (same id) once."""
    letters: dict[str, DeadLetter] = {}
    async for _, letter in replay(settings, DEAD_LETTERS):
        if isinstance(letter, DeadLetter):
            letters.setdefault(str(letter.event_id), letter)
    return sorted(letters.values(), key=lambda letter: letter.occurred_at)


async def redriven(settings: Settings) -> set[str]:
    """Ids of the dead letters re-driven so far."""
    return {
        event.dead_letter_id
        async for _, event in replay(settings, REDRIVES)
        if isinstance(event, DeadLetterRedriven)
    }


def redrive_transactional_id(settings: Settings) -> str:
    return f"{settings.topic_prefix}crm-dead-letter-redrive"


async def redrive(
    settings: Settings, letters: Sequence[DeadLetter], *, apply: bool, now: datetime
) -> list[Verdict]:
    """Judge every letter; with `apply`, re-send those that pass and record each."""
    producer: AIOKafkaProducer | None = None
    if apply:
        await create_topics(settings, [REDRIVES])  # idempotent: a stack older than the topic
        producer = new_producer(settings, transactional_id=redrive_transactional_id(settings))
        await producer.start()  # fences a redrive still running under the same id
    try:
        done = await redriven(settings)
        verdicts = [judge(letter, settings, done) for letter in letters]
        ready = [v.letter for v in verdicts if v.outcome == "redrive"]
        if producer is not None:
            for start in range(0, len(ready), TRANSACTION_SIZE):
                await _send(producer, settings, ready[start : start + TRANSACTION_SIZE], now)
        return verdicts
    finally:
        if producer is not None:
            await producer.stop()


async def _send(
    producer: AIOKafkaProducer, settings: Settings, letters: Sequence[DeadLetter], now: datetime
) -> None:
    async with producer.transaction():
        for letter in letters:
            ident = str(letter.event_id)
            await producer.send(
                letter.source_topic,
                letter.raw.encode(),
                key=None if letter.key is None else letter.key.encode(),
                headers=[(REDRIVE_HEADER, ident.encode())],
            )
            mark = DeadLetterRedriven(
                event_id=uuid.uuid5(letter.event_id, "redriven"),
                occurred_at=now,
                dead_letter_id=ident,
                source_topic=letter.source_topic,
                partition=letter.partition,
                offset=letter.offset,
                service=letter.service,
                error=letter.error,
            )
            await producer.send(settings.topic(REDRIVES), encode(mark), key=ident.encode())
