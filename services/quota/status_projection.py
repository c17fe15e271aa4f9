"""crm.seller-status → each seller's status in Redis: the limit the reserve script
reads, and what the API shows. A seller without a status has quota 0."""

from __future__ import annotations

from schemas.envelope import Event
from schemas.seller import SellerStatusChanged
from services.quota.redis_store import RedisQuotaStore
from services.shared.consumer import DeadLetteringConsumer, Handler, Record
from services.shared.replay import Progress, replay
from services.shared.settings import Settings

STATUS_TOPIC = "crm.seller-status"


def status_handler(store: RedisQuotaStore) -> Handler:
    async def project(event: Event, record: Record) -> None:
        # The topic's schema admits only SellerStatusChanged; anything else was dead-lettered.
        assert isinstance(event, SellerStatusChanged)
        await store.put_status(event, record.offset)

    return project


def status_consumer(
    settings: Settings, store: RedisQuotaStore, group_id: str
) -> DeadLetteringConsumer:
    return DeadLetteringConsumer(
        settings,
        service="quota",
        topics=[STATUS_TOPIC],
        group_id=group_id,
        handler=status_handler(store),
    )


async def read_statuses(
    settings: Settings, progress: Progress | None = None
) -> dict[str, tuple[SellerStatusChanged, int]]:
    """The latest status of every seller, with its offset (the topic is compacted)."""
    latest: dict[str, tuple[SellerStatusChanged, int]] = {}
    async for offset, event in replay(settings, STATUS_TOPIC, progress):
        if isinstance(event, SellerStatusChanged):
            latest[event.seller_id] = (event, offset)
    return latest
