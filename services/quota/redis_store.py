"""The quota scripts and the thin adapter that runs them.

Each operation is one Lua script, loaded once and run with EVALSHA, so a check
and its write are atomic. The rules live in the scripts (mirroring
services/quota/domain); this module only builds keys and arguments and reads
the replies. Replies are strings: the client must use decode_responses=True.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from itertools import chain
from pathlib import Path
from typing import Any, Literal, cast

import redis.asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.commands.core import AsyncScript

from schemas.seller import SellerStatusChanged
from services.quota.domain.counters import CampaignLimit, campaign_keys_expire_at
from services.quota.domain.frequency_cap import CapDecision, FrequencyCapPolicy
from services.quota.domain.ledger_facts import (
    LedgerEvent,
    LedgerFact,
    campaign_of,
    counter_of,
    fact_of,
    ledger_event,
)
from services.quota.domain.limits import limit_of
from services.quota.domain.reservations import WeekUsage
from services.quota.domain.week import Week, keys_expire_at, week_named
from services.quota.keys import SLOTS, QuotaKeys
from services.quota.script_pipeline import AutoPipeline, ScriptCall, run_scripts
from services.shared.redis_packing import HiredisPackingConnection
from services.shared.settings import Settings

_SCRIPTS = Path(__file__).with_name("scripts")
NEEDS_REBUILD = "needs_rebuild"
_SLOTS_PER_PIPELINE = 2048


# A page of cap decisions is cut into scripts of this many messages, so no one script
# holds Redis for long (about a millisecond each); they share one round trip.
CAP_BATCH = 1000

Prelude = Literal["week_prelude"]


def _lua(name: str, prelude: Prelude | None = None) -> str:
    body = (_SCRIPTS / f"{name}.lua").read_text()
    return body if prelude is None else (_SCRIPTS / f"{prelude}.lua").read_text() + body


def _ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def quota_redis(settings: Settings, *, max_connections: int = 200) -> aioredis.Redis:
    # A burst beyond the pool waits for a free connection (up to 10 s) instead of failing
    # with "Too many connections": confirmations still running from one burst hold
    # connections while the next burst's reservations arrive.
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        decode_responses=True,
        max_connections=max_connections,
        timeout=10,
        connection_class=HiredisPackingConnection,
    )
    return aioredis.Redis.from_pool(pool)


WeekOperation = Literal["reserve", "release", "dispatch", "count"]


@dataclass(frozen=True)
class WeekCall:
    """One script run on a seller's week, or on its counter of `campaign` when given
    (`week` is then the week of the plan's send time); `count` has no plan."""

    operation: WeekOperation
    seller_id: str
    plan_id: str
    week: Week
    now: datetime
    campaign: CampaignLimit | None = None

    @property
    def counter_label(self) -> str:
        return self.week.label if self.campaign is None else self.campaign.label

    def keys_expire_at(self) -> datetime:
        if self.campaign is None:
            return keys_expire_at(self.week, self.now)
        return campaign_keys_expire_at(self.campaign.ends_at, self.now)

    def campaign_args(self) -> list[Any]:
        """limit, campaign_id, end: what the scripts take after their own arguments."""
        campaign = self.campaign
        if campaign is None:
            return []
        return [campaign.plans_per_seller, campaign.campaign_id, campaign.ends_at.isoformat()]


@dataclass(frozen=True)
class WeekReply:
    """A week script's answer, with the plan's ledger facts still to publish."""

    outcome: str
    limit: int
    used: int
    pending: tuple[LedgerEvent, ...]
    generation: str
    """The generation marker of the seller's slot when the script ran."""


class RedisQuotaStore:
    def __init__(self, redis: aioredis.Redis, keys: QuotaKeys) -> None:
        self.redis = redis
        self.keys = keys
        self._scripts: list[AsyncScript] = []
        self._reserve = self._register("reserve", "week_prelude")
        self._release = self._register("release", "week_prelude")
        self._dispatch = self._register("dispatch", "week_prelude")
        self._count = self._register("count", "week_prelude")
        self._confirm = self._register("confirm")
        self._heal = self._register("heal")
        self._restore = self._register("restore")
        self._promote = self._register("promote")
        self._put_status = self._register("put_status")
        self._may_send_many = self._register("may_send_many")
        self._pipelined = AutoPipeline(redis)

    def _register(self, name: str, prelude: Prelude | None = None) -> AsyncScript:
        script = self.redis.register_script(_lua(name, prelude))
        self._scripts.append(script)
        return script

    async def load_scripts(self) -> None:
        """SCRIPT LOAD each script once; later calls are EVALSHA (reloaded after NOSCRIPT)."""
        for script in self._scripts:
            script.sha = await self.redis.script_load(script.script)

    # --- the seller projection -------------------------------------------------------

    async def seller_market(self, seller_id: str) -> str | None:
        """The market of the seller's status; None before its first status."""
        return cast(str | None, await self.redis.hget(self.keys.seller(seller_id), "market"))

    async def counter_used(self, seller_id: str, label: str) -> int:
        return int(await self.redis.hget(self.keys.counter(seller_id, label), "used") or 0)

    async def is_restored(self, seller_id: str) -> bool:
        """False when the seller's slot lost its data and no rebuild has restored it."""
        return bool(await self.redis.exists(self.keys.restored(seller_id)))

    async def put_status(
        self, status: SellerStatusChanged, offset: int, client: Any = None
    ) -> bool:
        fields = {
            "market": status.market,
            "limit": limit_of(status),
            "access": status.access,
            "level": "" if status.level is None else status.level,
            "weekly_quota": status.weekly_quota,
            "status": status.model_dump_json(),
        }
        args: list[Any] = [offset]
        for name, value in fields.items():
            args += [name, value]
        written = await self._put_status(
            keys=[self.keys.seller(status.seller_id)], args=args, client=client
        )
        return bool(written)

    async def seller_status(self, seller_id: str) -> SellerStatusChanged | None:
        raw = await self.redis.hget(self.keys.seller(seller_id), "status")
        return None if raw is None else SellerStatusChanged.model_validate_json(raw)

    # --- a seller's week ---------------------------------------------------------------

    def _week_keys(self, seller_id: str, label: str) -> list[str]:
        return [
            self.keys.restored(seller_id),
            self.keys.seller(seller_id),
            self.keys.counter(seller_id, label),
            self.keys.pending(seller_id),
        ]

    def _week_reply(self, seller_id: str, plan_id: str, raw: str) -> WeekReply:
        reply = json.loads(raw)
        if reply["outcome"] == NEEDS_REBUILD:
            return WeekReply(NEEDS_REBUILD, 0, 0, (), "")
        facts: tuple[LedgerFact, ...] = ("reserved", "released")
        pending = tuple(
            _pending_event(fact, seller_id, plan_id, reply[fact]) for fact in facts if fact in reply
        )
        return WeekReply(
            reply["outcome"], reply["limit"], reply["used"], pending, reply["generation"]
        )

    def _script_call(self, call: WeekCall) -> ScriptCall:
        keys = self._week_keys(call.seller_id, call.counter_label)
        at = call.now.isoformat()
        campaign = call.campaign_args()
        if call.operation == "reserve":
            expire_at = _ms(call.keys_expire_at())
            return self._reserve, keys, [call.plan_id, call.week.label, expire_at, at, *campaign]
        if call.operation == "release":
            return self._release, keys, [call.plan_id, call.week.label, at, *campaign]
        if call.operation == "dispatch":
            return self._dispatch, keys, [call.plan_id, *campaign[:1]]
        return self._count, keys[:3], campaign[:1]

    async def run_week_calls(self, calls: Sequence[WeekCall]) -> list[WeekReply | BaseException]:
        """Every call's reply (or error), the calls sharing one pipeline."""
        results = await run_scripts(self.redis, [self._script_call(call) for call in calls])
        return [
            result
            if isinstance(result, BaseException)
            else self._week_reply(call.seller_id, call.plan_id, result)
            for call, result in zip(calls, results, strict=True)
        ]

    async def run_week_call(self, call: WeekCall) -> WeekReply:
        (reply,) = await self.run_week_calls([call])
        if isinstance(reply, BaseException):
            raise reply
        return reply

    # --- the ledger's pending facts ------------------------------------------------------

    async def confirm(
        self, seller_id: str, generation: str, events: Sequence[LedgerEvent], client: Any = None
    ) -> Any:
        """The ledger acknowledged these facts, taken under `generation`: clear their
        pending marks. Answers 0 (and clears nothing) when a rebuild ran since: then
        `heal` must confirm them."""
        keys = [self.keys.restored(seller_id), self.keys.pending(seller_id)]
        fields = [f"{fact_of(event)}:{event.plan_id}" for event in events]
        return await self._confirm(keys=keys, args=[generation, *fields], client=client)

    async def heal(
        self,
        seller_id: str,
        market: str | None,
        events: Sequence[LedgerEvent],
        now: datetime,
        client: Any = None,
    ) -> None:
        """The ledger acknowledged these facts: clear their pending marks, and make sure
        Redis holds them, should a rebuild have read the ledger before they landed."""
        keys = [self.keys.restored(seller_id), self.keys.pending(seller_id)]
        args: list[Any] = []
        for event in events:
            keys.append(self.keys.counter(seller_id, counter_of(event)))
            campaign = campaign_of(event)
            if campaign is None:
                expire_at = keys_expire_at(week_named(counter_of(event), market), now)
            else:
                expire_at = campaign_keys_expire_at(campaign.ends_at, now)
            args += [fact_of(event), event.plan_id, _ms(expire_at)]
        await self._heal(keys=keys, args=args, client=client)

    async def sellers_with_pending(self) -> list[str]:
        pattern = self.keys.all_pending
        return [
            self.keys.seller_of_pending(key)
            async for key in self.redis.scan_iter(match=pattern, count=1000)
        ]

    async def pending_of(self, seller_id: str) -> list[LedgerEvent]:
        entries = cast(dict[str, str], await self.redis.hgetall(self.keys.pending(seller_id)))
        events = []
        for field, entry in entries.items():
            fact, _, plan_id = field.partition(":")
            fields = json.loads(entry)
            events.append(_pending_event(cast(LedgerFact, fact), seller_id, plan_id, fields))
        # A plan's reservation goes to the ledger before its release.
        return sorted(events, key=lambda e: (e.plan_id, fact_of(e) != "reserved"))

    # --- rebuilds --------------------------------------------------------------------------

    async def restore(
        self,
        seller_id: str,
        weeks: Sequence[tuple[str, WeekUsage, datetime]],
        client: Any = None,
    ) -> None:
        """Write (counter label, usage, keys expire at) for a seller whose slot lost its data."""
        keys = [self.keys.restored(seller_id)]
        args: list[Any] = []
        for label, usage, expire_at in weeks:
            keys.append(self.keys.counter(seller_id, label))
            args += [_ms(expire_at), usage.used, len(usage.plans)]
            for plan_id, state in usage.plans.items():
                args += [plan_id, state]
        await self._restore(keys=keys, args=args, client=client)

    async def begin_restoring(self, generation: str) -> None:
        """Mark every slot as being restored by this generation (see promote.lua)."""
        await self._each_slot(
            lambda pipe, slot: pipe.set(self.keys.slot_restoring(slot), generation)
        )

    async def finish_restoring(self, generation: str) -> None:
        """Every slot that kept this generation's mark is restored."""
        await self._each_slot(
            lambda pipe, slot: self._promote(
                keys=[self.keys.slot_restoring(slot), self.keys.slot_restored(slot)],
                args=[generation],
                client=pipe,
            )
        )

    async def drop_markers(self) -> None:
        """Mark every slot as not restored, so nothing is answered until a rebuild."""
        await self._each_slot(lambda pipe, slot: pipe.delete(self.keys.slot_restored(slot)))

    async def slots_lost(self) -> int:
        """How many slots have no generation marker (lost data, or never rebuilt)."""
        found = await self._each_slot(lambda pipe, slot: pipe.exists(self.keys.slot_restored(slot)))
        return found.count(0)

    async def _each_slot(self, queue: Callable[[Any, int], Any]) -> list[Any]:
        results: list[Any] = []
        for start in range(0, len(SLOTS), _SLOTS_PER_PIPELINE):
            pipe = self.redis.pipeline(transaction=False)
            for slot in SLOTS[start : start + _SLOTS_PER_PIPELINE]:
                called = queue(pipe, slot)
                if inspect.isawaitable(called):
                    await called
            results += await pipe.execute()
        return results

    def rebuild_lock(self, timeout: float) -> Lock:
        return self.redis.lock(self.keys.rebuild_lock, timeout=timeout, sleep=0.05)

    async def last_rebuild(self) -> dict[str, Any] | None:
        raw = await self.redis.get(self.keys.last_rebuild)
        return None if raw is None else cast(dict[str, Any], json.loads(raw))

    async def record_rebuild(self, report: Mapping[str, Any]) -> None:
        await self.redis.set(self.keys.last_rebuild, json.dumps(report))

    # --- frequency caps ----------------------------------------------------------------

    async def may_send(
        self,
        seller_id: str,
        customer_id: str,
        message_id: str,
        at: datetime,
        policy: FrequencyCapPolicy,
        now: datetime,
    ) -> CapDecision:
        keys, head = self._cap_call(seller_id, at, policy, now)
        code = await self._pipelined(self._may_send_many, keys, [*head, customer_id, message_id])
        return _cap_decisions(policy)[code]

    async def may_send_many(
        self,
        seller_id: str,
        messages: Sequence[tuple[str, str]],
        at: datetime,
        policy: FrequencyCapPolicy,
        now: datetime,
    ) -> list[CapDecision]:
        """`may_send` for each (customer_id, message_id) in order, in one round trip.

        Each script of CAP_BATCH messages is atomic, the page as a whole is not. When
        one fails, the error is raised, and the decisions already taken stay taken:
        a retry of the page gets them again (each message is decided once).
        """
        keys, head = self._cap_call(seller_id, at, policy, now)
        calls: list[ScriptCall] = []
        for start in range(0, len(messages), CAP_BATCH):
            args = [*head, *chain.from_iterable(messages[start : start + CAP_BATCH])]
            calls.append((self._may_send_many, keys, args))
        decisions = _cap_decisions(policy)
        answers: list[CapDecision] = []
        for reply in await run_scripts(self.redis, calls):
            if isinstance(reply, BaseException):
                raise reply
            answers += [decisions[code] for code in reply]
        return answers

    def _cap_call(
        self, seller_id: str, at: datetime, policy: FrequencyCapPolicy, now: datetime
    ) -> tuple[list[str], list[int | str]]:
        """The cap script's keys (the periods it reads) and its arguments before the messages."""
        at_ms, window = _ms(at), _ms_of(policy.window)
        first, own, last = cap_periods(at_ms, window)
        keys = [self.keys.cap_period(seller_id, p) for p in range(first, last + 1)]
        kept_until = cap_kept_until(own, window, _ms(now))
        return keys, [at_ms, window, policy.max_messages, own - first + 1, kept_until]


# The cap's decisions are kept in periods of a week (scripts/may_send_many.lua): a script
# reads the periods two windows either side of `at` (five for a 7-day window).
CAP_PERIOD_MS = 7 * 24 * 3600 * 1000


def cap_periods(at_ms: int, window_ms: int) -> tuple[int, int, int]:
    """The first period a decision at `at` reads, the period it writes, the last it reads:
    every decision within two windows of `at`, the cap's memory."""
    return (
        (at_ms - 2 * window_ms) // CAP_PERIOD_MS,
        at_ms // CAP_PERIOD_MS,
        (at_ms + 2 * window_ms) // CAP_PERIOD_MS,
    )


def cap_kept_until(period: int, window_ms: int, now_ms: int) -> int:
    """A period's decisions are kept two windows after the later of its end and now."""
    return max((period + 1) * CAP_PERIOD_MS, now_ms) + 2 * window_ms


def _ms_of(duration: timedelta) -> int:
    return int(duration.total_seconds() * 1000)


@cache
def _cap_decisions(policy: FrequencyCapPolicy) -> Mapping[str, CapDecision]:
    """The decision each one-character answer of the cap script stands for."""
    return {
        "a": CapDecision("allowed", False, policy.version),
        "A": CapDecision("allowed", True, policy.version),
        "c": CapDecision("frequency_capped", False, policy.version),
        "C": CapDecision("frequency_capped", True, policy.version),
    }


def _pending_event(
    fact: LedgerFact, seller_id: str, plan_id: str, fields: Mapping[str, Any]
) -> LedgerEvent:
    campaign = None
    if fields.get("campaign_id"):
        campaign = CampaignLimit(
            fields["campaign_id"],
            fields["limit"],
            datetime.fromisoformat(fields["campaign_ends_at"]),
        )
    return ledger_event(
        fact,
        seller_id=seller_id,
        plan_id=plan_id,
        week=fields["week"],
        limit=fields["limit"],
        used_after=fields["used_after"],
        occurred_at=datetime.fromisoformat(fields["at"]),
        campaign=campaign,
    )
