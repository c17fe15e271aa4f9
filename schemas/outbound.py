"""The one message per (plan, customer) that the chat system sends."""

from typing import Annotated, Literal

from pydantic import Field

from schemas.engagement import ClickTarget
from schemas.envelope import Event, StrictModel
from schemas.types import Identifier, Label

TEXT_MAX_LENGTH = 500
MAX_PRODUCTS = 4

PlanType = Literal["one_time", "automated", "campaign"]


class Button(StrictModel):
    """The interactive button under a message and where it lands."""

    type: ClickTarget


class OutboundMessage(Event):
    """Send this text to this customer; message_id is derived from plan_id and customer_id."""

    event_type: Literal["OutboundMessage"] = "OutboundMessage"
    message_id: Identifier
    plan_id: Identifier
    plan_type: PlanType
    seller_id: Identifier
    customer_id: Identifier
    language: Label
    text: Annotated[str, Field(min_length=1, max_length=TEXT_MAX_LENGTH)]
    product_ids: Annotated[list[Identifier], Field(max_length=MAX_PRODUCTS)]
    coupon_id: Identifier | None
    button: Button | None
