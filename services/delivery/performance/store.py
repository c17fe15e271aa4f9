"""The performance figures in Redis.

Layout (P = CRM_TOPIC_PREFIX + "delivery:perf"; {seller} is a hash tag, so one seller's
keys share a cluster slot and every script touches one slot):

    P:{seller}:plan:<plan>             hash  the plan's figures: recipients, sent,
                                             suppressed:<reason>, delivered, read, clicked,
                                             failed, orders, gmv, coupons_claimed, and
                                             segment_id, plan_type, done, progress_offset;
                                             a sharded plan's shards' own figures as
                                             shard<i>:<figure> beside their sums
    P:{seller}:plan:<plan>:messages    hash  customer_id → bits already counted (1 delivered,
                                             2 read, 4 clicked, 8 failed); expires 120 days
                                             after its last write
    P:{seller}:plan:<plan>:once        set   "order:<id>", "claim:<event_id>" counted;
                                             expires 120 days after its last write
    P:{seller}:plans                   hash  plan_id → segment_id
    P:{seller}:day:<YYYY-MM-DD>        hash  "<plan_id>|<figure>" → amount added that
                                             market-local day (the overview, the segments'
                                             daily snapshots), and the plan's cumulative
                                             recipients, sent, suppressed:<reason> as of its
                                             last progress record that day; expires after
                                             400 days
    P:{seller}:snapshots:<YYYY-MM-DD>  string  every segment's figures as of that day, JSON:
                                             a cache of the day buckets' sums, 15 minutes
    P:{seller}:receipts:<YYYY-MM-DD>   hash  customer_id → [[delivered µs, plan_id], …]
                                             delivered that UTC day; expires 35 days
                                             after its last write

Why: a plan with a million recipients keeps one hash field per customer for all four
marks (not a key per message), and the marks expire with the plan's activity. The day
buckets hold each plan's share, so the overview's per-segment figures need no knowledge
of a plan's segment when its events are counted. Receipts are kept 35 days from their
last write: an order needs 7 days of them, and a replay of an old log must still find them.
Measured: about 60 bytes per customer for a plan's marks and 80 for a receipt, so a
1,000,000-recipient plan costs about 140 MB until its marks and receipts expire.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from services.customers.port import CustomerStore
from services.delivery.domain.attribution import Receipt
from services.delivery.domain.performance import (
    MessageMark,
    ProgressMark,
    Tally,
    daily_figures,
    day_field,
)
from services.shared.settings import Settings

MARK_TTL = timedelta(days=120)
DAY_TTL = timedelta(days=400)
RECEIPT_TTL = timedelta(days=35)
# Receipts keep whole microseconds: the 7-day boundary is exact.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# KEYS: figures hash, mark key (messages hash or once set), day hash.
# ARGV: mark kind ('bit' | 'once'), member, bit, mark ttl s, day ttl s, n plan pairs,
#       then n (figure, amount) pairs for the plan, then (field, amount) pairs for the day.
# The mark and the sums change in one atomic step: a crash can never leave a mark set
# whose figures were not added (a redelivery would then skip them).
_TALLY = """
local counted
if ARGV[1] == 'bit' then
  local flags = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
  local bit_ = tonumber(ARGV[3])
  counted = bit.band(flags, bit_) == 0
  if counted then redis.call('HSET', KEYS[2], ARGV[2], bit.bor(flags, bit_)) end
else
  counted = redis.call('SADD', KEYS[2], ARGV[2]) == 1
end
redis.call('EXPIRE', KEYS[2], ARGV[4])
if not counted then return 0 end
local plan_pairs = tonumber(ARGV[6])
local i = 7
for _ = 1, plan_pairs do
  redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
if i <= #ARGV then
  while i <= #ARGV do
    redis.call('HINCRBYFLOAT', KEYS[3], ARGV[i], ARGV[i + 1])
    i = i + 2
  end
  redis.call('EXPIRE', KEYS[3], ARGV[5])
end
return 1
"""


def performance_prefix(settings: Settings) -> str:
    """Follows the topic prefix, so tests and parallel demos sharing a Redis stay apart."""
    return f"{settings.topic_prefix}delivery:perf"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _texts(mapping: Mapping[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in mapping.items()}


class PerformanceStore:
    """Works over a client with or without decode_responses."""

    def __init__(self, redis: aioredis.Redis, prefix: str, customers: CustomerStore) -> None:
        self.redis = redis
        self.prefix = prefix
        self.customers = customers
        self._tally = redis.register_script(_TALLY)

    # keys

    def plan_key(self, seller_id: str, plan_id: str) -> str:
        return f"{self.prefix}:{{{seller_id}}}:plan:{plan_id}"

    def messages_key(self, seller_id: str, plan_id: str) -> str:
        return f"{self.plan_key(seller_id, plan_id)}:messages"

    def once_key(self, seller_id: str, plan_id: str) -> str:
        return f"{self.plan_key(seller_id, plan_id)}:once"

    def plans_key(self, seller_id: str) -> str:
        return f"{self.prefix}:{{{seller_id}}}:plans"

    def day_key(self, seller_id: str, day: date) -> str:
        return f"{self.prefix}:{{{seller_id}}}:day:{day.isoformat()}"

    def snapshots_key(self, seller_id: str, day: date) -> str:
        return f"{self.prefix}:{{{seller_id}}}:snapshots:{day.isoformat()}"

    def receipts_key(self, seller_id: str, day: date) -> str:
        return f"{self.prefix}:{{{seller_id}}}:receipts:{day.isoformat()}"

    # markets (the customers projection keeps them, from metrics reports and statuses)

    async def markets(self, sellers: Sequence[str]) -> dict[str, str | None]:
        return await self.customers.markets_of(sellers)

    # plans and their progress

    async def save_plan_segments(self, segments: Mapping[tuple[str, str], str]) -> None:
        if not segments:
            return
        pipe = self.redis.pipeline(transaction=False)
        for (seller_id, plan_id), segment_id in segments.items():
            pipe.hset(self.plans_key(seller_id), plan_id, segment_id)
        await pipe.execute()

    async def plan_segments(self, seller_id: str) -> dict[str, str]:
        return _texts(await self.redis.hgetall(self.plans_key(seller_id)))

    async def progress_marks(
        self, plans: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], ProgressMark | None]:
        """(seller, plan, shard prefix) → the mark of the record its figures are from."""
        pipe = self.redis.pipeline(transaction=False)
        for seller_id, plan_id, prefix in plans:
            fields = [f"{prefix}recipients", f"{prefix}progress_offset"]
            pipe.hmget(self.plan_key(seller_id, plan_id), fields)
        marks: dict[tuple[str, str, str], ProgressMark | None] = {}
        for plan, (recipients, offset) in zip(plans, await pipe.execute(), strict=True):
            known = recipients is not None and offset is not None
            marks[plan] = ProgressMark(int(recipients), int(offset)) if known else None
        return marks

    async def plan_hashes(
        self, plans: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, str]]:
        pipe = self.redis.pipeline(transaction=False)
        for seller_id, plan_id in plans:
            pipe.hgetall(self.plan_key(seller_id, plan_id))
        return {
            plan: _texts(found) for plan, found in zip(plans, await pipe.execute(), strict=True)
        }

    async def save_progress(
        self,
        writes: Mapping[tuple[str, str], Mapping[str, str]],
        days: Mapping[tuple[str, date], Mapping[str, str]] | None = None,
    ) -> None:
        """Set the plans' progress fields and (seller, day) → the day-bucket fields."""
        if not writes and not days:
            return
        pipe = self.redis.pipeline(transaction=False)
        for (seller_id, plan_id), fields in writes.items():
            values: dict[Any, Any] = dict(fields)  # redis-py's mapping type is invariant
            pipe.hset(self.plan_key(seller_id, plan_id), mapping=values)
        for (seller_id, day), fields in (days or {}).items():
            key = self.day_key(seller_id, day)
            bucket: dict[Any, Any] = dict(fields)
            pipe.hset(key, mapping=bucket)
            pipe.expire(key, DAY_TTL)
        await pipe.execute()

    # receipts

    async def receipts(
        self, wanted: Sequence[tuple[str, date, str]]
    ) -> dict[tuple[str, date, str], list[Receipt]]:
        """(seller, UTC day, customer) → the receipts of that bucket."""
        pipe = self.redis.pipeline(transaction=False)
        for seller_id, day, customer_id in wanted:
            pipe.hget(self.receipts_key(seller_id, day), customer_id)
        found: dict[tuple[str, date, str], list[Receipt]] = {}
        for key, raw in zip(wanted, await pipe.execute(), strict=True):
            found[key] = _decode_receipts(raw) if raw is not None else []
        return found

    async def save_receipts(self, buckets: Mapping[tuple[str, date, str], list[Receipt]]) -> None:
        if not buckets:
            return
        pipe = self.redis.pipeline(transaction=False)
        expiring: set[tuple[str, date]] = set()
        for (seller_id, day, customer_id), receipts in buckets.items():
            pipe.hset(self.receipts_key(seller_id, day), customer_id, _encode_receipts(receipts))
            expiring.add((seller_id, day))
        for seller_id, day in expiring:
            # From the write, not from the day: a replay of an old log must find the
            # receipts its orders are attributed to.
            pipe.expire(self.receipts_key(seller_id, day), RECEIPT_TTL)
        await pipe.execute()

    # tallies

    async def apply(self, tallies: Sequence[Tally]) -> list[bool]:
        """Count each tally unless its mark was counted before; True where it counted."""
        if not tallies:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for tally in tallies:
            keys, args = self._tally_call(tally)
            await self._tally(keys=keys, args=args, client=pipe)
        return [bool(answer) for answer in await pipe.execute()]

    def _tally_call(self, tally: Tally) -> tuple[list[str], list[Any]]:
        seller_id, plan_id, mark = tally.seller_id, tally.plan_id, tally.mark
        if isinstance(mark, MessageMark):
            mark_key = self.messages_key(seller_id, plan_id)
            mark_args: list[Any] = ["bit", mark.customer_id, mark.bit]
        else:
            mark_key = self.once_key(seller_id, plan_id)
            mark_args = ["once", mark.token, 0]
        day = self.day_key(seller_id, tally.day) if tally.day is not None else mark_key
        args: list[Any] = [
            *mark_args,
            int(MARK_TTL.total_seconds()),
            int(DAY_TTL.total_seconds()),
            len(tally.figures),
        ]
        for name, amount in tally.figures:
            args += [name, repr(float(amount))]
        for name, amount in daily_figures(tally):
            args += [day_field(plan_id, name), repr(float(amount))]
        return [self.plan_key(seller_id, plan_id), mark_key, day], args

    # reading

    async def plan_figures(self, seller_id: str, plan_ids: Iterable[str]) -> list[dict[str, str]]:
        pipe = self.redis.pipeline(transaction=False)
        for plan_id in plan_ids:
            pipe.hgetall(self.plan_key(seller_id, plan_id))
        return [_texts(stored) for stored in await pipe.execute()]

    async def cached_snapshots(self, seller_id: str, day: date) -> dict[str, Any] | None:
        raw = await self.redis.get(self.snapshots_key(seller_id, day))
        return None if raw is None else dict(json.loads(raw))

    async def cache_snapshots(
        self, seller_id: str, day: date, snapshots: Mapping[str, Any], ttl: timedelta
    ) -> None:
        await self.redis.set(self.snapshots_key(seller_id, day), json.dumps(snapshots), ex=ttl)

    async def days(self, seller_id: str, days: Sequence[date]) -> list[dict[str, str]]:
        pipe = self.redis.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self.day_key(seller_id, day))
        return [_texts(stored) for stored in await pipe.execute()]


def _encode_receipts(receipts: Iterable[Receipt]) -> str:
    rows = [[(r.received_at - _EPOCH) // _MICROSECOND, r.plan_id] for r in receipts]
    return json.dumps(rows, separators=(",", ":"))


def _decode_receipts(raw: bytes | str) -> list[Receipt]:
    return [Receipt(_EPOCH + us * _MICROSECOND, plan_id) for us, plan_id in json.loads(raw)]
