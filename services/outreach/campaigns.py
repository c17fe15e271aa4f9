"""crm.campaigns → the marketplace's campaign calendar in Redis, as the plan processor
reads it when a campaign plan is submitted, cancelled or dispatched.

A later announcement of a campaign (a higher offset: the topic has one partition and
is keyed by campaign_id) replaces the earlier one whole. A small script applies a
record only when its offset is newer than the stored one, so redelivery, the consumer
and a rebuild may write in any order.

Key (P = CRM_TOPIC_PREFIX + "outreach"), one hash for the whole calendar (a few
campaigns a month), so losing it loses all of it together with its marker:
    P:campaigns   hash  <campaign_id> → {"offset": n, "campaign": {CampaignAnnounced}}
                        " complete" → "1" once a replay of the topic filled it (no
                        campaign_id starts with a space)
A lookup that misses while the marker is absent (Redis lost data, or a fresh Redis)
replays the topic first, so a lost calendar never refuses a campaign plan.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

import redis.asyncio as aioredis
import structlog

from schemas.campaigns import CampaignAnnounced
from schemas.envelope import Event
from services.outreach.permissions import outreach_prefix
from services.shared.consumer import DeadLetteringConsumer, Handler, Record, Rejected
from services.shared.replay import replay_records
from services.shared.settings import Settings

log = structlog.get_logger(__name__)

CAMPAIGNS_TOPIC = "crm.campaigns"
_COMPLETE = " complete"  # ids are trimmed, so no campaign_id is this field

# KEYS[1] the calendar hash. ARGV: campaign_id, offset, campaign JSON.
_APPLY_IF_NEWER = """
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored and cjson.decode(stored).offset >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1],
           '{"offset":' .. ARGV[2] .. ',"campaign":' .. ARGV[3] .. '}')
return 1
"""


class CampaignLookup(Protocol):
    async def campaign(self, campaign_id: str) -> CampaignAnnounced | None:
        """The campaign as last announced, or None if it never was."""
        ...


class CampaignCalendar:
    """The calendar over a client made with decode_responses=True."""

    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.key = f"{outreach_prefix(settings)}:campaigns"
        self._apply_if_newer = redis.register_script(_APPLY_IF_NEWER)
        self._rebuilding = asyncio.Lock()

    async def apply(self, event: CampaignAnnounced, offset: int) -> bool:
        """Record the announcement unless a later one of the campaign is there."""
        written = await self._apply_if_newer(
            keys=[self.key], args=[event.campaign_id, offset, event.model_dump_json()]
        )
        return bool(written)

    async def stored(self, campaign_id: str) -> CampaignAnnounced | None:
        raw = await self.redis.hget(self.key, campaign_id)
        return None if raw is None else _parsed(raw)

    async def campaign(self, campaign_id: str) -> CampaignAnnounced | None:
        found = await self.stored(campaign_id)
        if found is None and not await self.is_complete():
            await self._ensure_complete()
            found = await self.stored(campaign_id)
        return found

    async def every_campaign(self) -> list[CampaignAnnounced]:
        """Every campaign ever announced, as last announced."""
        await self._ensure_complete()
        stored = await self.redis.hgetall(self.key)
        return [_parsed(raw) for field, raw in stored.items() if field != _COMPLETE]

    async def _ensure_complete(self) -> None:
        async with self._rebuilding:
            if not await self.is_complete():
                await self.rebuild()

    async def is_complete(self) -> bool:
        return bool(await self.redis.hexists(self.key, _COMPLETE))

    async def rebuild(self) -> int:
        """Write every announcement on the topic, then mark the calendar complete."""
        count = 0
        async for record, event in replay_records(self.settings, CAMPAIGNS_TOPIC):
            # What the consumer refuses (a record keyed by something else) stays out.
            if isinstance(event, CampaignAnnounced) and record.key == event.campaign_id.encode():
                count += await self.apply(event, record.offset)
        await self.redis.hset(self.key, _COMPLETE, "1")
        log.info("campaign_calendar_rebuilt", written=count)
        return count


def _parsed(raw: str | bytes) -> CampaignAnnounced:
    # JSON, not Python values: the strict schema takes times and UUIDs as JSON strings.
    return CampaignAnnounced.model_validate_json(json.dumps(json.loads(raw)["campaign"]))


def campaign_calendar(settings: Settings, redis: aioredis.Redis) -> CampaignCalendar:
    return CampaignCalendar(redis, settings)


def campaigns_handler(calendar: CampaignCalendar) -> Handler:
    async def project(event: Event, record: Record) -> None:
        # The topic's schema admits only CampaignAnnounced; anything else was dead-lettered.
        assert isinstance(event, CampaignAnnounced)
        key = record.key.decode(errors="replace") if record.key is not None else None
        if key != event.campaign_id:
            # Offsets order a campaign's announcements only within its partition.
            raise Rejected(f"key: must be the campaign_id {event.campaign_id!r}, got {key!r}")
        await calendar.apply(event, record.offset)

    return project


def campaigns_consumer(
    settings: Settings, redis: aioredis.Redis, group_id: str, **options: Any
) -> DeadLetteringConsumer:
    return DeadLetteringConsumer(
        settings,
        service="outreach",
        topics=[CAMPAIGNS_TOPIC],
        group_id=group_id,
        handler=campaigns_handler(campaign_calendar(settings, redis)),
        **options,
    )
