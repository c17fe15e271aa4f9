"""Delivery's Redis keys. P = CRM_TOPIC_PREFIX + "delivery"; {seller} is a hash tag, so a
seller's keys share a cluster slot and one script may touch them together.

    P:{seller}:blocked              set   customers who currently block the shop
    P:{seller}:messaged:<plan_id>   hash  customer → the firing (partition:offset) that
                                          messaged them, for an automated plan
    P:{seller}:shop-name            string  the shop's latest name (ShopProfileUpdated)
"""

from __future__ import annotations

from services.shared.settings import Settings


def delivery_prefix(settings: Settings) -> str:
    return f"{settings.topic_prefix}delivery"


class DeliveryKeys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def blocked(self, seller_id: str) -> str:
        return f"{self.prefix}:{{{seller_id}}}:blocked"

    def messaged(self, seller_id: str, plan_id: str) -> str:
        return f"{self.prefix}:{{{seller_id}}}:messaged:{plan_id}"

    def shop_name(self, seller_id: str) -> str:
        return f"{self.prefix}:{{{seller_id}}}:shop-name"
