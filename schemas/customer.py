"""Per seller-customer activity and per-customer profile attributes."""

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from schemas.envelope import Event
from schemas.types import Currency, Identifier, Label, Money


class _ShopCustomerEvent(Event):
    # Not an event itself: the fields every customer-activity event shares.
    seller_id: Identifier
    customer_id: Identifier


class ShopFollowed(_ShopCustomerEvent):
    """The customer followed the shop."""

    event_type: Literal["ShopFollowed"] = "ShopFollowed"


class ShopUnfollowed(_ShopCustomerEvent):
    """The customer unfollowed the shop."""

    event_type: Literal["ShopUnfollowed"] = "ShopUnfollowed"


class ProductViewed(_ShopCustomerEvent):
    """The customer viewed one of the shop's products."""

    event_type: Literal["ProductViewed"] = "ProductViewed"
    product_id: Identifier


class CartAdded(_ShopCustomerEvent):
    """The customer added one of the shop's products to the cart."""

    event_type: Literal["CartAdded"] = "CartAdded"
    product_id: Identifier


class OrderPlaced(_ShopCustomerEvent):
    """The customer ordered from the shop."""

    event_type: Literal["OrderPlaced"] = "OrderPlaced"
    order_id: Identifier
    gmv: Money = Field(description="Order value in `currency`, at most 1e12.")
    currency: Currency
    product_ids: list[Identifier]
    coupon_ids: list[Identifier] = Field(default_factory=list)


class ChatStarted(_ShopCustomerEvent):
    """The customer started a chat with the shop."""

    event_type: Literal["ChatStarted"] = "ChatStarted"


class CouponClaimed(_ShopCustomerEvent):
    """The customer claimed one of the shop's coupons."""

    event_type: Literal["CouponClaimed"] = "CouponClaimed"
    coupon_id: Identifier


class CustomerProfileUpdated(Event):
    """The customer's current attributes: a full snapshot, not a patch.

    The topic is compacted, so only the latest snapshot per customer survives;
    null means the attribute is unknown.
    """

    event_type: Literal["CustomerProfileUpdated"] = "CustomerProfileUpdated"
    customer_id: Identifier
    region: Label | None
    city: Label | None
    gender: Label | None
    age_band: Label | None
    language: Label | None = Field(description="The customer's app language, e.g. 'th'.")
    # Added after the first producers: optional, so their events stay valid.
    name: Label | None = Field(
        default=None,
        description="How the shop may address the customer, e.g. 'Anna'; "
        "fills {customer_name} in messages. Null or absent: unknown.",
    )

    @model_serializer(mode="wrap")
    def _unknown_name_left_out(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # An event written without a name reads back exactly as it was written.
        dumped: dict[str, Any] = handler(self)
        if dumped.get("name") is None:
            dumped.pop("name", None)
        return dumped
