"""A synthetic marketplace, seeded: sellers report metrics and are evaluated, customers
follow, browse, buy, block and unblock, sellers make segments and plans of every type
through the HTTP API. Only valid input; every API answer is recorded for the checker."""

from __future__ import annotations

import asyncio
import random
import time as clock
import uuid
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import httpx

from demo.kit import seller_headers
from schemas.campaigns import CampaignAnnounced
from schemas.customer import (
    CartAdded,
    CustomerProfileUpdated,
    OrderPlaced,
    ProductViewed,
    ShopFollowed,
)
from schemas.engagement import ShopBlocked, ShopUnblocked
from schemas.envelope import Event
from schemas.seller import EvaluationDue, SellerMetricsReported
from schemas.topics import key_of, topic_of
from services.customers.port import customers_redis, recompute_seller
from services.eligibility.reader import add_months, month_at, window
from services.shared.codec import encode
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from soak.checker import ApiCall

MARKET: Final = "TH"
BANGKOK = ZoneInfo("Asia/Bangkok")
SEGMENT = "followers_not_purchased"
CONDITIONS = [
    {"field": "is_follower", "op": "is_true", "value": None},
    {"field": "order_count", "op": "eq", "value": 0},
    {"field": "region", "op": "in", "value": ["10", "11"]},
]


def _content() -> dict[str, Any]:
    return {
        "default_language": "th",
        "texts": {"th": "ลดราคาวันนี้", "en": "Today only, {customer_name}"},
        "product_ids": ["p-1"],
        "button": {"type": "product_list"},
    }


class Market:
    def __init__(
        self, settings: Settings, http: httpx.AsyncClient, seed: int, sellers: int, customers: int
    ) -> None:
        self.settings = settings
        self.http = http
        self.rng = random.Random(seed)
        run = uuid.UUID(int=random.Random(seed ^ 0x50AC).getrandbits(128)).hex[:6]
        self.run = f"soak{run}{uuid.uuid4().hex[:4]}"
        self.active = [f"{self.run}-s{n}" for n in range(sellers)]
        self.inactive = [f"{self.run}-x0"]
        self.customers: dict[str, list[str]] = {s: [] for s in self.active + self.inactive}
        self.per_seller = customers
        self.campaign = f"{self.run}-mega"
        self.calls: list[ApiCall] = []
        self.published: Counter[str] = Counter()
        self.publish_failures = 0
        self.actions: Counter[str] = Counter()
        self.scheduled: dict[str, list[str]] = {s: [] for s in self.customers}
        self.automated: set[str] = set()
        self.segments: set[str] = set()
        self.producer = new_producer(settings, request_timeout_ms=20_000)
        self.started = clock.monotonic()

    # -- plumbing -------------------------------------------------------------------
    async def publish(self, events: list[Event]) -> None:
        try:
            sent = []
            for event in events:
                key = key_of(event)
                sent.append(
                    await self.producer.send(
                        self.settings.topic(topic_of(event.event_type).name),
                        encode(event),
                        key=key.encode() if key is not None else None,
                    )
                )
            await asyncio.gather(*sent)
            self.published.update(e.event_type for e in events)
        except Exception:  # the broker away: upstream would retry later, we move on
            self.publish_failures += len(events)

    async def call(
        self, method: str, path: str, seller: str, body: Any = None
    ) -> httpx.Response | None:
        headers = seller_headers(self.settings, seller, f"{seller}-owner", "owner")
        for _attempt in range(5):
            try:
                response = await self.http.request(method, path, json=body, headers=headers)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__} {exc}"[:200]
                self.calls.append(ApiCall(method, _shape(path), None, None, error, self._since()))
                return None
            retry_after = response.headers.get("retry-after")
            self.calls.append(
                ApiCall(
                    method, _shape(path), response.status_code, retry_after, None, self._since()
                )
            )
            if response.status_code != 429:
                return response
            await asyncio.sleep(float(retry_after or 1))  # the rate limit: as asked
        return None

    def _since(self) -> float:
        return round(clock.monotonic() - self.started, 1)

    # -- setup ----------------------------------------------------------------------
    async def setup(self) -> list[str]:
        """Metrics in last month's and this month's windows, the campaign, followers;
        then last month's tick (enrols the good sellers). The months ticked."""
        await self.producer.start()
        now = datetime.now(UTC)
        this_month = month_at(now, MARKET)
        last_month = add_months(this_month, -1)
        self.months = (last_month, this_month)
        events: list[Event] = []
        for seller in self.active + self.inactive:
            good = seller in self.active
            for month in (last_month, this_month):
                day = window(month)[0] + timedelta(days=2)
                events.append(_metrics(seller, day, good))
        events.append(
            CampaignAnnounced(
                event_id=uuid.uuid4(),
                occurred_at=now,
                campaign_id=self.campaign,
                name="Soak mega sale",
                markets=[MARKET],
                starts_at=now - timedelta(minutes=1),
                ends_at=now + timedelta(days=1),
                plans_per_seller=2,
            )
        )
        for seller in self.customers:
            for _ in range(self.per_seller):
                events += self._new_follower(seller, now - timedelta(days=2))
        await self.publish(events)
        await self.tick(last_month)
        return [last_month, this_month]

    async def report_metrics(self) -> None:
        """Every seller's daily report again (the marketplace sends one a day): the same
        figures for a day of this month's window."""
        day = window(self.months[1])[0] + timedelta(days=self.rng.randint(3, 20))
        sellers = self.active + self.inactive
        await self.publish([_metrics(s, day, s in self.active) for s in sellers])

    async def tick(self, month: str) -> None:
        await self.publish(
            [
                EvaluationDue(
                    event_id=uuid.uuid4(),
                    occurred_at=datetime.now(UTC),
                    market=MARKET,
                    effective_month=month,
                )
            ]
        )

    async def recompute(self) -> None:
        """The daily membership job, done now for every seller (as `crm segments recompute`)."""
        redis = customers_redis(self.settings)
        try:
            for seller in self.customers:
                await recompute_seller(self.settings, redis, seller)
        finally:
            await redis.aclose()

    # -- traffic --------------------------------------------------------------------
    def _new_follower(self, seller: str, at: datetime) -> list[Event]:
        customer = f"{seller}-c{len(self.customers[seller]):04d}"
        self.customers[seller].append(customer)
        return [
            CustomerProfileUpdated(
                event_id=uuid.uuid4(),
                occurred_at=at,
                customer_id=customer,
                region=self.rng.choice(["10", "11", "50"]),
                city=None,
                gender=None,
                age_band=None,
                language=self.rng.choice(["th", "en"]),
            ),
            ShopFollowed(
                event_id=uuid.uuid4(), occurred_at=at, seller_id=seller, customer_id=customer
            ),
        ]

    async def customer_step(self) -> None:
        seller = self.rng.choice(list(self.customers))
        customer = self.rng.choice(self.customers[seller])
        now = datetime.now(UTC)
        kind = self.rng.choice(["follow", "view", "cart", "order", "block", "unblock"])
        self.actions[f"customer_{kind}"] += 1
        events: list[Event]
        if kind == "follow":
            events = self._new_follower(seller, now)
        elif kind == "view":
            events = [
                ProductViewed(
                    event_id=uuid.uuid4(),
                    occurred_at=now,
                    product_id="p-1",
                    seller_id=seller,
                    customer_id=customer,
                )
            ]
        elif kind == "cart":
            # Two hours ago: a one-hour cart reminder is due at once.
            at = now - timedelta(hours=2)
            events = [
                CartAdded(
                    event_id=uuid.uuid4(),
                    occurred_at=at,
                    product_id="p-1",
                    seller_id=seller,
                    customer_id=customer,
                )
            ]
        elif kind == "order":
            events = [
                OrderPlaced(
                    event_id=uuid.uuid4(),
                    occurred_at=now,
                    order_id=uuid.uuid4().hex,
                    gmv=round(self.rng.uniform(50, 1000), 2),
                    currency="THB",
                    product_ids=["p-1"],
                    seller_id=seller,
                    customer_id=customer,
                )
            ]
        elif kind == "block":
            events = [
                ShopBlocked(
                    event_id=uuid.uuid4(),
                    occurred_at=now,
                    message_id=None,
                    seller_id=seller,
                    customer_id=customer,
                )
            ]
        else:
            events = [
                ShopUnblocked(
                    event_id=uuid.uuid4(), occurred_at=now, seller_id=seller, customer_id=customer
                )
            ]
        await self.publish(events)

    async def seller_step(self, late: bool) -> None:
        """One seller action through the API. `late`: nothing that sends in the future."""
        seller = self.rng.choice(self.active + self.inactive)
        choices = ["send_now", "campaign", "status", "list"]
        if not late:
            choices += ["scheduled", "scheduled", "cancel"]
        if seller not in self.automated:
            choices += ["automated"]
        if seller not in self.segments:
            choices += ["segment"]
        kind = self.rng.choice(choices)
        self.actions[f"seller_{kind}"] += 1
        now = datetime.now(UTC)
        if kind == "status":
            await self.call("GET", "/v1/shop/status", seller)
        elif kind == "list":
            await self.call("GET", "/v1/plans", seller)
        elif kind == "segment":
            segment = {"name": "Soak buyers-to-be", "conditions": CONDITIONS}
            answer = await self.call("POST", "/v1/segments", seller, segment)
            if answer is not None and answer.status_code == 201:
                self.segments.add(seller)
        elif kind == "cancel":
            if self.scheduled[seller]:
                plan = self.scheduled[seller].pop(self.rng.randrange(len(self.scheduled[seller])))
                await self.call("POST", f"/v1/plans/{plan}/cancel", seller)
        else:
            body: dict[str, Any] = {
                "type": "one_time",
                "name": f"Soak {kind}",
                "segment_id": SEGMENT,
                "content": _content(),
            }
            if kind == "send_now":
                body["send_now"] = True
            elif kind == "scheduled":
                body["send_at"] = (now + timedelta(seconds=self.rng.uniform(10, 40))).isoformat()
            elif kind == "campaign":
                body |= {"type": "campaign", "campaign_id": self.campaign, "send_now": True}
            else:
                body |= {
                    "type": "automated",
                    # New followers keep coming: the welcome fires within the run.
                    "trigger": {"type": "new_follower"},
                    "starts_at": now.isoformat(),
                    "ends_at": (now + timedelta(days=7)).isoformat(),
                }
            created = await self.call("POST", "/v1/plans", seller, body)
            if created is None or created.status_code != 201:
                return
            plan_id = created.json()["plan_id"]
            submitted = await self.call("POST", f"/v1/plans/{plan_id}/submit", seller)
            if submitted is not None and submitted.status_code == 200:
                status = submitted.json().get("status")
                if status == "scheduled" and kind == "scheduled":
                    self.scheduled[seller].append(plan_id)
                if status == "ongoing":
                    self.automated.add(seller)

    async def close(self) -> None:
        await self.producer.stop()


def _shape(path: str) -> str:
    """The route, without plan ids (the report groups calls by it)."""
    parts = path.split("/")
    return "/".join("{id}" if len(p) >= 20 else p for p in parts)


def _metrics(seller: str, day: date, good: bool) -> SellerMetricsReported:
    return SellerMetricsReported(
        event_id=uuid.uuid4(),
        occurred_at=datetime.combine(day, time(12), tzinfo=BANGKOK),
        seller_id=seller,
        market=MARKET,
        metrics_date=day,
        chats_received=120,
        chats_responded_12h=114 if good else 30,
        ses=4.6 if good else 2.0,
        violation_points=1 if good else 40,
        extra={},
    )
