"""What a record must be, beyond its schema, before any handler sees it (SPEC section 6).

- Its times are plausible: no fact time before the floor (2000-01-01), none more than the
  tolerance (a day) after the record's own Kafka timestamp. Judged against the record,
  never the wall clock, so a replay decides exactly as the first reading did.
- Its Kafka key is its topic's key field (schemas/topics.py), so it sits in the
  partition that orders it and co-partitioned state sees it where it expects it.

Every consume loop calls `admit` where it decodes; `crm publish` calls `check` against
now, the timestamp the record will get. A record that fails is a DecodeError with the
reason, which every loop already dead-letters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from schemas.envelope import Event
from schemas.topics import record_key
from schemas.topics import topic as registry_topic
from services.shared.codec import DecodeError, decode
from services.shared.settings import Settings

# Times that state when something happened. Schedules (a plan's send_at, a campaign's
# ends_at) may lie far ahead and are not judged here.
FACT_TIMES = ("occurred_at", "delivered_at", "read_at", "clicked_at", "decided_at", "due_at")
# Market-local dates of facts: a date starts, somewhere, up to 14 hours before UTC's.
FACT_DATES = ("metrics_date",)
_EARLIEST_ZONE = timedelta(hours=14)
_EARLIEST_ZONE_SECONDS = 14 * 3600
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class Plausibility:
    floor: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    tolerance: timedelta = timedelta(days=1)
    # The bounds of the per-record fast path (see _clearly_plausible), each on the safe
    # side: POSIX seconds a second inside, and the floor's UTC date a day inside.
    floor_seconds: float = field(init=False, repr=False, compare=False)
    tolerance_seconds: float = field(init=False, repr=False, compare=False)
    floor_day: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "floor_seconds", self.floor.timestamp() + 1)
        object.__setattr__(self, "tolerance_seconds", self.tolerance.total_seconds() - 1)
        object.__setattr__(self, "floor_day", self.floor.astimezone(UTC).toordinal() + 1)

    @classmethod
    def of(cls, settings: Settings) -> Plausibility:
        return cls(
            floor=datetime.combine(settings.time_floor, time(), tzinfo=UTC),
            tolerance=timedelta(seconds=settings.future_tolerance_seconds),
        )


def implausible_time(event: Event, recorded_at: datetime, rule: Plausibility) -> str | None:
    """Why one of the event's fact times cannot be true of a record written at
    `recorded_at`; None if they all can. Compared, never converted: converting
    9999-12-31T23:59:59-14:00 to UTC overflows, which is the bug this guards."""
    latest = recorded_at + rule.tolerance
    times, dates = _fact_fields(type(event))
    for name in times:
        value = getattr(event, name)
        if not isinstance(value, datetime):
            continue
        if value < rule.floor:
            return f"{name}: {value.isoformat()} is before {rule.floor.date().isoformat()}"
        if value > latest:
            return (
                f"{name}: {value.isoformat()} is more than {_span(rule.tolerance)} after "
                f"the record's timestamp {recorded_at.isoformat()}"
            )
    for name in dates:
        day = getattr(event, name)
        if not isinstance(day, date):
            continue
        if day < rule.floor.date():
            return f"{name}: {day.isoformat()} is before {rule.floor.date().isoformat()}"
        if datetime.combine(day, time(), tzinfo=UTC) - _EARLIEST_ZONE > latest:
            return (
                f"{name}: {day.isoformat()} is more than {_span(rule.tolerance)} after "
                f"the record's timestamp {recorded_at.isoformat()}"
            )
    return None


@cache
def _fact_fields(cls: type[Event]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # Asking a pydantic model for a field it lacks is slow (it raises inside): ~30 µs.
    fields = cls.model_fields
    return tuple(n for n in FACT_TIMES if n in fields), tuple(n for n in FACT_DATES if n in fields)


@cache
def _key_field(topic: str, cls: type[Event]) -> str | None:
    """The topic's key field if events of `cls` have it (asked once per pair: see above)."""
    field = registry_topic(topic).key_field
    return field if field is not None and field in cls.model_fields else None


def wrong_key(topic: str, event: Event, key: bytes | None) -> str | None:
    """Why the record's Kafka key is not the topic's key field of the event; None if it is."""
    field = _key_field(topic, type(event))
    if field is None:
        return None
    expected = record_key(event, field)
    if not isinstance(expected, str):
        return None  # the event has no such field: its schema is the registry's business
    got = None if key is None else key.decode("utf-8", errors="replace")
    if got != expected:
        return f"key: must be the {field} {expected!r}, got {got!r}"
    return None


def check(
    topic: str, event: Event, key: bytes | None, recorded_at: datetime, rule: Plausibility
) -> None:
    """Raise DecodeError with the reason if the keyed event cannot be admitted."""
    reason = wrong_key(topic, event, key) or implausible_time(event, recorded_at, rule)
    if reason is not None:
        raise DecodeError(reason)


def admit(
    topic: str,
    raw: bytes | None,
    *,
    key: bytes | None,
    timestamp_ms: int,
    max_bytes: int,
    rule: Plausibility,
) -> Event:
    """Decode one record of registry topic `topic` and admit it, or raise DecodeError."""
    event = decode(topic, raw, max_bytes=max_bytes)
    if _clearly_plausible(event, timestamp_ms, rule):
        reason = wrong_key(topic, event, key)
    else:  # near a bound, or past it: judged exactly, with the reason
        recorded_at = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
        reason = wrong_key(topic, event, key) or implausible_time(event, recorded_at, rule)
    if reason is not None:
        raise DecodeError(reason)
    return event


def _clearly_plausible(event: Event, timestamp_ms: int, rule: Plausibility) -> bool:
    """Every fact time a second or more inside its bounds. The per-record fast path of
    `implausible_time`: comparing aware datetimes with pydantic's time zones costs about
    a microsecond each (two offset look-ups), a POSIX timestamp one look-up; floats
    round, hence the margin, and anything within it is judged exactly."""
    floor, latest = rule.floor_seconds, timestamp_ms / 1000 + rule.tolerance_seconds
    # Coarser still, without any offset: a local date is within a day of the UTC one.
    floor_day, latest_day = rule.floor_day, int(latest // 86400) + _EPOCH_ORDINAL - 1
    times, dates = _fact_fields(type(event))
    for name in times:
        value = getattr(event, name)
        if not isinstance(value, datetime) or floor_day < value.toordinal() < latest_day:
            continue
        if not floor < value.timestamp() < latest:
            return False
    for name in dates:
        day = getattr(event, name)
        if isinstance(day, date):
            # The day's earliest start anywhere, in POSIX seconds (exact: whole seconds).
            start = (day.toordinal() - _EPOCH_ORDINAL) * 86400 - _EARLIEST_ZONE_SECONDS
            if not floor < start < latest:
                return False
    return True


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day" + ("s" if days != 1 else "")
    return f"{seconds} s"
