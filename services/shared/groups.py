"""Every consumer group's name, in one place.

A group is named CRM_TOPIC_PREFIX + `crm-<service>[-<what it reads>]`: a test with its own
topic prefix gets its own groups, and the workers, `crm lag`, the lag exporter's labels and
the alert rules (deploy/prometheus) all see the names listed here. Changing a name makes
the group start over from its reset policy, so names are kept as they were.

Transactional ids stay with the loop that owns them (they are not groups).
"""

from __future__ import annotations

from collections.abc import Callable

from services.shared.settings import Settings


def _named(settings: Settings, name: str) -> str:
    return f"{settings.topic_prefix}crm-{name}"


# --- outreach -----------------------------------------------------------------------------


def outreach(settings: Settings) -> str:
    """The plan processor: plan commands and seller statuses."""
    return _named(settings, "outreach")


def outreach_permissions(settings: Settings) -> str:
    return _named(settings, "outreach-permissions")


def outreach_appeals(settings: Settings) -> str:
    return _named(settings, "outreach-appeals")


def outreach_campaigns(settings: Settings) -> str:
    return _named(settings, "outreach-campaigns")


# --- delivery -----------------------------------------------------------------------------


def delivery(settings: Settings) -> str:
    """The fan-out: dispatched plans and firings."""
    return _named(settings, "delivery")


def delivery_blocks(settings: Settings) -> str:
    return _named(settings, "delivery-blocks")


def delivery_shop_names(settings: Settings) -> str:
    return _named(settings, "delivery-shop-names")


def delivery_performance(settings: Settings) -> str:
    return _named(settings, "delivery-performance")


def chat_simulator(settings: Settings) -> str:
    return _named(settings, "chat-simulator")


# --- eligibility, customers, quota -------------------------------------------------------


def eligibility(settings: Settings) -> str:
    return _named(settings, "eligibility")


def customers(settings: Settings) -> str:
    """The customers projection (engagement, orders, profiles)."""
    return _named(settings, "customers")


def customers_firing(settings: Settings) -> str:
    """The trigger engine run on its own (tests); in the worker it follows the
    projection's group, `customers`, instead."""
    return _named(settings, "customers-firing")


def quota(settings: Settings) -> str:
    """Quota's projection of seller statuses."""
    return _named(settings, "quota")


# Each worker's main group: the one whose lag says the worker has caught up.
OF_WORKER: dict[str, Callable[[Settings], str]] = {
    "outreach": outreach,
    "delivery": delivery,
    "eligibility": eligibility,
    "customers": customers,
    "quota": quota,
}

ALL: tuple[Callable[[Settings], str], ...] = (
    outreach,
    outreach_permissions,
    outreach_appeals,
    outreach_campaigns,
    delivery,
    delivery_blocks,
    delivery_shop_names,
    delivery_performance,
    chat_simulator,
    eligibility,
    customers,
    customers_firing,
    quota,
)
