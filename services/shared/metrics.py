"""Prometheus metrics every consumer shares; services add their own beside them."""

from prometheus_client import Counter, Gauge

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
BATCHES_RETRIED = Counter(
    "crm_batches_retried_total",
    "Batches read again because Redis failed or timed out while they were handled.",
    ["service"],
)
EVENTS_RETRIED = Counter(
    "crm_events_retried_total",
    "Events a handler failed on and handled again (failure_policy.py).",
    ["service", "topic"],
)
EVENTS_REPEATED = Counter(
    "crm_events_repeated_total",
    "Exact redeliveries of an applied event_id, skipped as no-ops.",
    ["service", "topic"],
)
WORKER_READY = Gauge(
    "crm_worker_ready",
    "1 when every readiness check of the process passed at its last run (/readyz or a scrape).",
    ["service"],
)
CHECK_UP = Gauge(
    "crm_worker_check_up",
    "1 when one readiness check (kafka, redis, partitions ...) passed at its last run.",
    ["service", "check"],
)
