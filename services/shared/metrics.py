"""Prometheus metrics every consumer shares; services add their own beside them."""

from prometheus_client import Counter

EVENTS_CONSUMED = Counter(
    "crm_events_consumed_total",
    "Valid events handed to a service's handler.",
    ["service", "topic", "event_type"],
)
DEAD_LETTERS = Counter(
    "crm_dead_letters_total",
    "Records sent to crm.dead-letters, by the topic they came from.",
    ["service", "topic"],
)
