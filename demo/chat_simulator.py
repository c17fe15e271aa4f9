"""The marketplace chat system, simulated: what it would report about our OutboundMessages.

Reads crm.outbound-messages as a read_committed consumer (the chat system only ever
sees committed sends) and, per message, publishes what `domain.reactions` decides:
MessageDelivered / MessageRead / MessageClicked / MessageFailed on crm.chat-engagement,
ShopBlocked on crm.shop-blocks, CouponClaimed and OrderPlaced on crm.customer-activity.
Times come from the clock passed in (plus each message's small delays), so a test can
place the engagement inside the evaluation window it needs.

At least once, like any upstream producer: a crash before the offsets are committed
sends a batch's reactions again, with the same event ids (consumers de-duplicate).
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from schemas.envelope import Event
from schemas.outbound import OutboundMessage
from schemas.topics import key_of, topic_of
from services.delivery.domain.reactions import ReactionRates, reaction_events
from services.shared import groups
from services.shared.clock import Clock
from services.shared.codec import encode
from services.shared.consumer import DeadLetteringConsumer, Record, Rejected
from services.shared.settings import Settings

SERVICE = "chat-simulator"
TOPICS = (
    "crm.outbound-messages",
    "crm.chat-engagement",
    "crm.shop-blocks",
    "crm.customer-activity",
    "crm.dead-letters",
)


class ChatSimulator:
    """One consumer group over crm.outbound-messages; `counts` says what it did so far
    (messages, and events by type), `by_plan` the same per plan."""

    def __init__(
        self,
        settings: Settings,
        rates: ReactionRates,
        clock: Clock,
        *,
        currency: str = "THB",
        group_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.rates = rates
        self.clock = clock
        self.currency = currency
        self.counts: Counter[str] = Counter()
        self.by_plan: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._batch: list[tuple[str, list[Event]]] = []
        self._sent_at: datetime | None = None
        self.loop = DeadLetteringConsumer(
            settings,
            service=SERVICE,
            topics=["crm.outbound-messages"],
            group_id=group_id or groups.chat_simulator(settings),
            handler=self._react,
            flush=self._publish,
            max_records=2000,
            consumer_options={"fetch_max_wait_ms": 100},
        )

    @property
    def ready(self) -> bool:
        return self.loop.ready

    async def run(self, stop: asyncio.Event) -> None:
        await self.loop.run(stop)

    async def _react(self, event: Event, record: Record) -> None:
        if not isinstance(event, OutboundMessage):
            raise Rejected(f"not an OutboundMessage: {event.event_type}")
        # One reading of the clock per batch: the chat system got these together.
        if self._sent_at is None:
            self._sent_at = self.clock()
        events = reaction_events(event, self.rates, self._sent_at, self.currency)
        self._batch.append((event.plan_id, events))

    async def _publish(self) -> None:
        batch, self._batch, self._sent_at = self._batch, [], None
        producer = self.loop.producer
        pending: list[asyncio.Future[Any]] = []
        for _, events in batch:
            for event in events:
                key = key_of(event)
                pending.append(
                    await producer.send(
                        self.settings.topic(topic_of(event.event_type).name),
                        encode(event),
                        key=key.encode() if key is not None else None,
                    )
                )
        await asyncio.gather(*pending)
        for plan_id, events in batch:
            # Orders count for the plan whose message prompted them.
            made = ["messages", *(e.event_type for e in events)]
            self.counts.update(made)
            self.by_plan[plan_id].update(made)


async def simulate_chat(
    settings: Settings,
    rates: ReactionRates,
    *,
    stop: asyncio.Event,
    clock: Clock,
    currency: str = "THB",
    on_start: Callable[[ChatSimulator], None] | None = None,
) -> Counter[str]:
    """Run the simulator until `stop` is set; what it did (see ChatSimulator.counts)."""
    simulator = ChatSimulator(settings, rates, clock, currency=currency)
    if on_start is not None:
        on_start(simulator)
    await simulator.run(stop)
    return simulator.counts
