"""The customers projection in Redis: what a seller's customers did, their profiles, each
seller's market, and the daily segment memberships delivery reads.

Layout (P = CRM_TOPIC_PREFIX + "customers"; {seller} is a hash tag, so one seller's keys
share a cluster slot):

    P:{seller}:rel                  hash  customer_id → Relationship, compact JSON
    P:profiles                      hash  customer_id → Profile, compact JSON
    P:markets                       hash  seller_id → market (crm.seller-metrics, crm.seller-status)
    P:sellers                       set   sellers with at least one relationship
    P:{seller}:member-pages:<D>:<segment>
                                    list  membership as of day D: pages of customer ids,
                                          each a JSON array, in id order, each id once
    P:{seller}:sizes:<D>            hash  segment_id → member count as of D
    P:{seller}:high_value:<D>       string  the spend high_value_customers members exceeded
                                            as of D (judges one customer at a firing)
    P:{seller}:as_of                string  D of the latest complete recompute

Why this shape: every segment question scans one seller's customers, so a seller's
relationships live in one hash that HSCAN walks in large pages (one round trip per
thousands of customers) and no key listing is ever needed. Profiles are per customer and
shared by sellers, so they are fetched by HMGET for the customers of the page at hand.
Memberships of a day are written completely before `as_of` moves to it, so a reader
(the API, delivery at dispatch) sees one whole day or the one before, never a mix.
Members are stored sorted, in pages: delivery reads a million in a few round trips and
parses a page in one call, where a set cost ~1.5 s of loading and sorting before a
big plan's first message. (A day written as a set, `P:{seller}:members:<D>:<segment>`,
before pages existed is still read until it expires.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, cast

import orjson
import redis.asyncio as aioredis

from services.customers.definitions import SegmentDefinition, SegmentDefinitions, SegmentEvent
from services.customers.domain.conditions import Condition
from services.customers.domain.cutoff import Cutoff
from services.customers.domain.profile import MessageProfile, Profile
from services.customers.domain.relationship import (
    Relationship,
    from_stored_json,
    to_stored_json,
)
from services.customers.matching import count_matching
from services.shared.redis_packing import bytes_redis
from services.shared.settings import Settings

# redis-py's mapping parameter is invariant in its value type; dict[str, int] is fine.
_Mapping = dict[Any, Any]
SCAN_PAGE = 5000
# Member pages read per round trip (50 pages: 250,000 ids).
MEMBER_PAGES_READ = 50
# KEYS[1] the seller's as_of. ARGV[1] the day just written (ISO dates sort as they read).
_ADVANCE_AS_OF = """
local stored = redis.call('GET', KEYS[1])
if stored and stored >= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""
# KEYS[1] a hash. ARGV: field, the value it was read as ('' if absent), its new value,
# repeated. A field is written only if it still holds what it was read as; the others are
# returned: another process wrote them in between (the projection folds a pair from
# topics keyed differently, so two processes may fold the same pair at once).
_SET_UNLESS_CHANGED = """
local changed = {}
for i = 1, #ARGV, 3 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  if (current or '') == ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
  else
    table.insert(changed, ARGV[i])
  end
end
return changed
"""
# Memberships of older days are kept a little, for a dispatch that read `as_of` just
# before midnight moved it.
MEMBERSHIP_TTL = timedelta(days=3)


def customers_prefix(settings: Settings) -> str:
    """Follows the topic prefix so tests and parallel demos sharing a Redis stay apart."""
    return f"{settings.topic_prefix}customers"


def customers_redis(settings: Settings, *, max_connections: int = 50) -> aioredis.Redis:
    """Bytes in and out: relationships are decoded straight from bytes."""
    return bytes_redis(settings, max_connections=max_connections)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisCustomerStore:
    """The customers port (services/customers/port.py) over Redis, and what customers'
    own workers read and write beside it."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.definitions = SegmentDefinitions(redis, prefix)
        self._advance_as_of = redis.register_script(_ADVANCE_AS_OF)
        self._set_unless_changed = redis.register_script(_SET_UNLESS_CHANGED)

    # keys

    def rel_key(self, seller_id: str) -> str:
        return f"{self.prefix}:{{{seller_id}}}:rel"

    @property
    def profiles_key(self) -> str:
        return f"{self.prefix}:profiles"

    @property
    def markets_key(self) -> str:
        return f"{self.prefix}:markets"

    @property
    def sellers_key(self) -> str:
        return f"{self.prefix}:sellers"

    def members_key(self, seller_id: str, as_of: date, segment_id: str) -> str:
        return f"{self.prefix}:{{{seller_id}}}:member-pages:{as_of.isoformat()}:{segment_id}"

    def legacy_members_key(self, seller_id: str, as_of: date, segment_id: str) -> str:
        """The day's members as a set, as written before member pages."""
        return f"{self.prefix}:{{{seller_id}}}:members:{as_of.isoformat()}:{segment_id}"

    def sizes_key(self, seller_id: str, as_of: date) -> str:
        return f"{self.prefix}:{{{seller_id}}}:sizes:{as_of.isoformat()}"

    def high_value_key(self, seller_id: str, as_of: date) -> str:
        return f"{self.prefix}:{{{seller_id}}}:high_value:{as_of.isoformat()}"

    def as_of_key(self, seller_id: str) -> str:
        return f"{self.prefix}:{{{seller_id}}}:as_of"

    # relationships

    async def load_relationships(
        self, seller_id: str, customer_ids: Sequence[str]
    ) -> dict[str, Relationship]:
        """The stored relationships of these customers (absent ones are left out)."""
        if not customer_ids:
            return {}
        raw = await self.redis.hmget(self.rel_key(seller_id), list(customer_ids))
        return {c: from_stored_json(r) for c, r in zip(customer_ids, raw, strict=True) if r}

    async def load_many(
        self, customers_of: Mapping[str, Sequence[str]]
    ) -> dict[str, dict[str, Relationship]]:
        """`load_relationships` of many sellers in one round trip (a batch, a refold)."""
        sellers = [s for s, customers in customers_of.items() if customers]
        if not sellers:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for seller_id in sellers:
            pipe.hmget(self.rel_key(seller_id), list(customers_of[seller_id]))
        loaded: dict[str, dict[str, Relationship]] = {}
        for seller_id, raw in zip(sellers, await pipe.execute(), strict=True):
            customers = customers_of[seller_id]
            loaded[seller_id] = {
                c: from_stored_json(r) for c, r in zip(customers, raw, strict=True) if r
            }
        return loaded

    async def read_relationships(
        self, customers_of: Mapping[str, Sequence[str]]
    ) -> dict[str, dict[str, bytes | None]]:
        """The stored JSON of many sellers' customers (None: none stored) in one round
        trip, as `save_unless_changed` compares it."""
        sellers = [s for s, customers in customers_of.items() if customers]
        if not sellers:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for seller_id in sellers:
            pipe.hmget(self.rel_key(seller_id), list(customers_of[seller_id]))
        return {
            seller_id: dict(zip(customers_of[seller_id], raw, strict=True))
            for seller_id, raw in zip(sellers, await pipe.execute(), strict=True)
        }

    async def save_unless_changed(
        self,
        read: Mapping[str, Mapping[str, bytes | None]],
        changed: Mapping[str, Mapping[str, Relationship]],
    ) -> dict[str, list[str]]:
        """Write each relationship only if what is stored is still what `read` found, in
        one round trip (each seller's pairs atomically); seller → the customers whose
        relationship changed in between, not written: read them again and fold again."""
        sellers = [s for s, rels in changed.items() if rels]
        if not sellers:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for seller_id in sellers:
            args: list[bytes | str] = []
            for customer_id, rel in changed[seller_id].items():
                was = read.get(seller_id, {}).get(customer_id)
                args += [customer_id, b"" if was is None else was, to_stored_json(rel)]
            await self._set_unless_changed(keys=[self.rel_key(seller_id)], args=args, client=pipe)
        pipe.sadd(self.sellers_key, *sellers)
        results = await pipe.execute()
        stale: dict[str, list[str]] = {}
        for seller_id, fields in zip(sellers, results, strict=False):
            if fields:
                stale[seller_id] = [_text(f) for f in fields]
        return stale

    async def stored_relationships(
        self, seller_id: str, customer_ids: Sequence[str]
    ) -> dict[str, bytes | str]:
        """The stored JSON of these customers' relationships, undecoded (absent ones are
        left out): the firing engine decodes each itself, so one unreadable pair is logged
        and skipped rather than failing the others."""
        if not customer_ids:
            return {}
        raw = await self.redis.hmget(self.rel_key(seller_id), list(customer_ids))
        return {c: r for c, r in zip(customer_ids, raw, strict=True) if r is not None}

    async def save_relationships(self, changed: Mapping[str, Mapping[str, Relationship]]) -> None:
        """Write seller → customer → relationship in one round trip."""
        if not changed:
            return
        pipe = self.redis.pipeline(transaction=False)
        for seller_id, rels in changed.items():
            pipe.hset(
                self.rel_key(seller_id),
                mapping={c: to_stored_json(rel) for c, rel in rels.items()},
            )
        pipe.sadd(self.sellers_key, *changed)
        await pipe.execute()

    async def scan_raw(
        self, seller_id: str, page: int = SCAN_PAGE
    ) -> AsyncIterator[list[tuple[str, bytes]]]:
        """The seller's (customer_id, stored JSON) pairs, one HSCAN page at a time."""
        cursor = 0
        key = self.rel_key(seller_id)
        while True:
            cursor, chunk = await self.redis.hscan(key, cursor, count=page)
            if chunk:
                yield [(_text(c), r) for c, r in cast(dict[bytes, bytes], chunk).items()]
            if cursor == 0:
                return

    async def relationships(
        self, seller_id: str, page: int = SCAN_PAGE
    ) -> AsyncIterator[list[tuple[str, Relationship]]]:
        """The seller's relationships, decoded, one page at a time."""
        async for chunk in self.scan_raw(seller_id, page):
            yield [(c, from_stored_json(r)) for c, r in chunk]

    async def customer_count(self, seller_id: str) -> int:
        return int(await self.redis.hlen(self.rel_key(seller_id)))

    # profiles

    async def profiles(self, customer_ids: Sequence[str]) -> dict[str, Profile]:
        if not customer_ids:
            return {}
        raw = await self.redis.hmget(self.profiles_key, list(customer_ids))
        return {
            c: Profile.model_validate_json(r) for c, r in zip(customer_ids, raw, strict=True) if r
        }

    async def message_profiles(self, customer_ids: Sequence[str]) -> dict[str, MessageProfile]:
        """What a message needs of each customer's profile: the language and the name.
        Read without validating the whole profile (delivery asks a page of recipients at
        a time); a missing or unreadable profile is left out."""
        if not customer_ids:
            return {}
        raw = await self.redis.hmget(self.profiles_key, list(customer_ids))
        found: dict[str, MessageProfile] = {}
        for customer_id, stored in zip(customer_ids, raw, strict=True):
            if stored is None:
                continue
            try:
                profile = orjson.loads(stored)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(profile, dict):
                continue
            language, name = profile.get("language"), profile.get("name")
            found[customer_id] = MessageProfile(
                language=language if isinstance(language, str) else None,
                name=name if isinstance(name, str) else None,
            )
        return found

    async def save_profiles(self, profiles: Mapping[str, Profile]) -> None:
        if profiles:
            await self.redis.hset(
                self.profiles_key,
                mapping={c: p.model_dump_json(exclude_none=True) for c, p in profiles.items()},
            )

    # sellers and markets

    async def set_markets(self, markets: Mapping[str, str]) -> None:
        if markets:
            values: _Mapping = dict(markets)
            await self.redis.hset(self.markets_key, mapping=values)

    async def market(self, seller_id: str) -> str | None:
        raw = await self.redis.hget(self.markets_key, seller_id)
        return None if raw is None else _text(raw)

    async def markets_of(self, seller_ids: Sequence[str]) -> dict[str, str | None]:
        """Each seller's market (None: not known yet)."""
        if not seller_ids:
            return {}
        values = await self.redis.hmget(self.markets_key, list(seller_ids))
        pairs = zip(seller_ids, values, strict=True)
        return {seller: _text(v) if v is not None else None for seller, v in pairs}

    async def markets(self) -> dict[str, str]:
        raw = await self.redis.hgetall(self.markets_key)
        return {_text(s): _text(m) for s, m in raw.items()}

    async def sellers(self) -> set[str]:
        """Sellers with at least one relationship."""
        return {_text(s) for s in await self.redis.smembers(self.sellers_key)}

    # memberships

    async def write_memberships(
        self,
        seller_id: str,
        as_of: date,
        members: Mapping[str, Iterable[str]],
        high_value_threshold: float | None = None,
    ) -> dict[str, int]:
        """Store every segment's members as of `as_of`, then point `as_of` at that day
        unless a later day is already there (a recompute of a past day never takes readers
        back in time). Returns the sizes. A segment missing from `members` has no members
        that day."""
        sizes: dict[str, int] = {}
        ttl = int(MEMBERSHIP_TTL.total_seconds())
        pipe = self.redis.pipeline(transaction=False)
        for segment_id, customers in members.items():
            key = self.members_key(seller_id, as_of, segment_id)
            listed = sorted(set(customers))
            sizes[segment_id] = len(listed)
            # A set of the same day written by an older version would be read for an
            # empty segment: it goes.
            pipe.delete(key, self.legacy_members_key(seller_id, as_of, segment_id))
            for start in range(0, len(listed), SCAN_PAGE):
                pipe.rpush(key, orjson.dumps(listed[start : start + SCAN_PAGE]))
            pipe.expire(key, ttl)
        sizes_key = self.sizes_key(seller_id, as_of)
        pipe.delete(sizes_key)
        if sizes:
            pipe.hset(sizes_key, mapping=cast(_Mapping, sizes))
        pipe.expire(sizes_key, ttl)
        if high_value_threshold is not None:
            pipe.set(self.high_value_key(seller_id, as_of), repr(high_value_threshold), ex=ttl)
        await pipe.execute()
        await self._advance_as_of(keys=[self.as_of_key(seller_id)], args=[as_of.isoformat()])
        return sizes

    async def latest_as_of(self, seller_id: str) -> date | None:
        raw = await self.redis.get(self.as_of_key(seller_id))
        return None if raw is None else date.fromisoformat(_text(raw))

    async def has_day(self, seller_id: str, as_of: date) -> bool:
        """Are the seller's memberships as of `as_of` (still) there?"""
        return bool(await self.redis.exists(self.sizes_key(seller_id, as_of)))

    async def high_value_threshold(self, seller_id: str) -> float | None:
        """The high_value_customers threshold of the latest complete recompute."""
        as_of = await self.latest_as_of(seller_id)
        if as_of is None:
            return None
        raw = await self.redis.get(self.high_value_key(seller_id, as_of))
        return None if raw is None else float(raw)

    async def sizes(self, seller_id: str) -> tuple[date | None, dict[str, int]]:
        """Every segment's size as of the latest complete recompute."""
        as_of = await self.latest_as_of(seller_id)
        if as_of is None:
            return None, {}
        raw = await self.redis.hgetall(self.sizes_key(seller_id, as_of))
        return as_of, {_text(k): int(v) for k, v in raw.items()}

    async def members(
        self, seller_id: str, segment_id: str, as_of: date | None = None
    ) -> AsyncIterator[list[str]]:
        """The segment's members as of `as_of` (default: the latest recompute), in pages,
        in id order: what delivery reads at dispatch."""
        day = as_of or await self.latest_as_of(seller_id)
        if day is None:
            return
        key = self.members_key(seller_id, day, segment_id)
        start = 0
        while pages := await self.redis.lrange(key, start, start + MEMBER_PAGES_READ - 1):
            for page in pages:
                yield orjson.loads(page)
            start += len(pages)
        if start:
            return
        # No pages: an empty segment, or a day written as a set before pages existed.
        key = self.legacy_members_key(seller_id, day, segment_id)
        cursor = 0
        while True:
            cursor, chunk = await self.redis.sscan(key, cursor, count=SCAN_PAGE)
            if chunk:
                yield [_text(c) for c in chunk]
            if cursor == 0:
                return

    # previews

    async def count_matching(
        self, seller_id: str, conditions: Sequence[Condition], cut: Cutoff
    ) -> int:
        """How many of the seller's customers meet every condition as of the cut-off."""
        return await count_matching(self, seller_id, conditions, cut)

    # custom segment definitions (services/customers/definitions.py)

    async def apply_segment_event(self, event: SegmentEvent, offset: int) -> bool:
        return await self.definitions.apply(event, offset)

    async def segment(self, seller_id: str, segment_id: str) -> SegmentDefinition | None:
        return await self.definitions.get(seller_id, segment_id)

    async def segment_known(self, seller_id: str, segment_id: str) -> bool:
        return await self.definitions.known(seller_id, segment_id)

    async def live_segments(self, seller_id: str) -> list[SegmentDefinition]:
        return await self.definitions.live(seller_id)


def customer_store(settings: Settings, redis: aioredis.Redis) -> RedisCustomerStore:
    return RedisCustomerStore(redis, customers_prefix(settings))
