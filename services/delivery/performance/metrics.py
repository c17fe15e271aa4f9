"""Prometheus metrics of the performance projection (beside services/shared/metrics.py's)."""

from prometheus_client import Counter

TALLIES = Counter(
    "crm_delivery_performance_tallies_total",
    "Engagement, order and claim figures: counted, or repeated (already counted before).",
    ["figure", "outcome"],
)
ATTRIBUTIONS = Counter(
    "crm_delivery_performance_attributions_total",
    "Orders and coupon claims attributed to a plan received in the 7 days before, or not.",
    ["kind", "outcome"],
)
PROGRESS_APPLIED = Counter(
    "crm_delivery_performance_progress_total",
    "DeliveryProgressed records: applied, or superseded by a later count already stored.",
    ["outcome"],
)
UNKNOWN_MARKET_EVENTS = Counter(
    "crm_delivery_performance_unknown_market_total",
    "Batches in which a seller's market was unknown, so its days were counted in UTC.",
)
