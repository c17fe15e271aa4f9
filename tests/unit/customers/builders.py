"""Small builders for customers unit tests: events with only the fields a test cares about.

Event ids are derived from the event's content, so building the same event twice gives an
equal event — what a redelivery looks like.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from schemas.customer import (
    CartAdded,
    ChatStarted,
    CouponClaimed,
    CustomerProfileUpdated,
    OrderPlaced,
    ProductViewed,
    ShopFollowed,
    ShopUnfollowed,
)
from schemas.engagement import MessageClicked, MessageRead
from schemas.markets import MARKET_TIME_ZONES
from schemas.outbound import OutboundMessage
from services.customers.domain.relationship import Relationship, RelationshipEvent, fold

SELLER = "s1"
CUSTOMER = "c1"


def local(market: str, day: str, clock: str = "00:00") -> datetime:
    """A market-local wall-clock time, as an aware datetime in that market's zone."""
    zone = ZoneInfo(MARKET_TIME_ZONES[market])
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), tzinfo=zone)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "/".join(str(part) for part in parts))


def _base(kind: str, at: datetime, *key: object) -> dict[str, object]:
    return {
        "event_id": _id(kind, at.isoformat(), *key),
        "occurred_at": at,
        "seller_id": SELLER,
        "customer_id": CUSTOMER,
    }


def followed(at: datetime) -> ShopFollowed:
    return ShopFollowed.model_validate(_base("follow", at))


def unfollowed(at: datetime) -> ShopUnfollowed:
    return ShopUnfollowed.model_validate(_base("unfollow", at))


def viewed(at: datetime, product: str = "p1") -> ProductViewed:
    return ProductViewed.model_validate({**_base("view", at, product), "product_id": product})


def cart_added(at: datetime, product: str = "p1") -> CartAdded:
    return CartAdded.model_validate({**_base("cart", at, product), "product_id": product})


def chatted(at: datetime) -> ChatStarted:
    return ChatStarted.model_validate(_base("chat", at))


def coupon_claimed(at: datetime, coupon: str = "cp1") -> CouponClaimed:
    return CouponClaimed.model_validate({**_base("coupon", at, coupon), "coupon_id": coupon})


def ordered(
    at: datetime,
    order: str = "o1",
    gmv: float = 100.0,
    products: Iterable[str] = ("p1",),
) -> OrderPlaced:
    fields = {
        **_base("order", at, order, gmv),
        "order_id": order,
        "gmv": gmv,
        "currency": "THB",
        "product_ids": list(products),
    }
    return OrderPlaced.model_validate(fields)


def _message(plan: str) -> dict[str, object]:
    return {
        "message_id": f"m-{plan}",
        "plan_id": plan,
        "seller_id": SELLER,
        "customer_id": CUSTOMER,
    }


def sent(at: datetime, plan: str = "plan-1") -> OutboundMessage:
    fields = {
        "event_id": _id("sent", at.isoformat(), plan),
        "occurred_at": at,
        **_message(plan),
        "plan_type": "one_time",
        "language": "th",
        "text": "hello",
        "product_ids": [],
        "coupon_id": None,
        "button": None,
    }
    return OutboundMessage.model_validate(fields)


def read(at: datetime, plan: str = "plan-1") -> MessageRead:
    fields = {"event_id": _id("read", at.isoformat(), plan), "occurred_at": at, "read_at": at}
    return MessageRead.model_validate({**fields, **_message(plan)})


def clicked(at: datetime, plan: str = "plan-1") -> MessageClicked:
    fields = {"event_id": _id("click", at.isoformat(), plan), "occurred_at": at}
    extra = {"clicked_at": at, "target": "shop_home"}
    return MessageClicked.model_validate({**fields, **extra, **_message(plan)})


def profile_updated(
    at: datetime,
    region: str | None = "JK",
    city: str | None = "Jakarta",
    gender: str | None = None,
    age_band: str | None = None,
    language: str | None = "id",
) -> CustomerProfileUpdated:
    fields = {
        "event_id": _id("profile", at.isoformat(), region, city, gender, age_band, language),
        "occurred_at": at,
        "customer_id": CUSTOMER,
        "region": region,
        "city": city,
        "gender": gender,
        "age_band": age_band,
        "language": language,
    }
    return CustomerProfileUpdated.model_validate(fields)


def relationship(*events: RelationshipEvent) -> Relationship:
    return fold(events)
