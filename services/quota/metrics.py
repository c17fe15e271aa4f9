"""The quota service's Prometheus counters. Reservations are counted where the
adapter runs (outreach, delivery, the bench); rebuilds and re-publications
wherever they happen, the quota worker included."""

from prometheus_client import Counter

RESERVATIONS = Counter("crm_quota_reservations_total", "Units of weekly quota taken.")
RELEASES = Counter("crm_quota_releases_total", "Units given back before dispatch.")
REFUSALS = Counter(
    "crm_quota_refusals_total",
    "Answers that did not do what was asked, by operation and reason.",
    ["operation", "reason"],
)
REBUILDS = Counter(
    "crm_quota_rebuilds_total",
    "Rebuilds of the quota projections from the topics, by trigger.",
    ["trigger"],
)
REPUBLISHED = Counter(
    "crm_quota_ledger_republished_total",
    "Ledger facts published again because their first write was not confirmed.",
)
CAP_DECISIONS = Counter(
    "crm_frequency_cap_decisions_total",
    "Frequency-cap answers, by outcome.",
    ["outcome"],
)
# Present from the start at 0, so the first rebuild shows as an increase (alerts use it).
for _trigger in ("data_lost", "on_demand"):
    REBUILDS.labels(_trigger)
