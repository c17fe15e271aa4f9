"""What customers did with broadcast messages, as reported by the chat system; shop blocks."""

from typing import Literal

from pydantic import AwareDatetime

from schemas.envelope import Event
from schemas.types import Identifier, Label

ClickTarget = Literal["product_detail", "product_list", "shop_home", "coupon"]


class _MessageEvent(Event):
    # Not an event itself: the fields every engagement event shares.
    message_id: Identifier
    plan_id: Identifier
    seller_id: Identifier
    customer_id: Identifier


class MessageDelivered(_MessageEvent):
    """The chat system delivered a broadcast message to the customer."""

    event_type: Literal["MessageDelivered"] = "MessageDelivered"
    delivered_at: AwareDatetime


class MessageRead(_MessageEvent):
    """The customer read a broadcast message (may repeat; a message counts as read once)."""

    event_type: Literal["MessageRead"] = "MessageRead"
    read_at: AwareDatetime


class MessageClicked(_MessageEvent):
    """The customer tapped the message's button."""

    event_type: Literal["MessageClicked"] = "MessageClicked"
    clicked_at: AwareDatetime
    target: ClickTarget


class MessageFailed(_MessageEvent):
    """The chat system could not deliver a broadcast message."""

    event_type: Literal["MessageFailed"] = "MessageFailed"
    reason: Label


class ShopBlocked(Event):
    """A customer blocked the shop's chat messages."""

    event_type: Literal["ShopBlocked"] = "ShopBlocked"
    seller_id: Identifier
    customer_id: Identifier
    # Required but nullable: null says "not prompted by a broadcast", which is
    # different from a producer forgetting the field.
    message_id: Identifier | None


class ShopUnblocked(Event):
    """A customer unblocked the shop."""

    event_type: Literal["ShopUnblocked"] = "ShopUnblocked"
    seller_id: Identifier
    customer_id: Identifier
