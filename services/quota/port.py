"""Quota's one public module: everything another service may use of quota, and nothing
else (import-linter holds them to it, pyproject.toml).

- the port: `QuotaPort` (protocol.py) and its answers; `open_quota` opens the Redis
  implementation (adapter.py), `InMemoryQuota` (fake.py) fakes it in unit tests;
- the frequency cap's numbers for a market (`frequency_cap_for`);
- the cap's sent history, a projection of quota's that delivery's fan-out rebuilds before
  it judges anyone: `cap_history_guard`, without knowing quota's keys.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.quota.adapter import RedisQuota, open_quota
from services.quota.cap_history import cap_history_guard as _store_guard
from services.quota.domain.counters import CampaignLimit
from services.quota.domain.frequency_cap import CapDecision, FrequencyCapPolicy, frequency_cap_for
from services.quota.fake import InMemoryQuota
from services.quota.protocol import (
    Dispatch,
    QuotaAnswer,
    QuotaPort,
    Release,
    Reservation,
    WeekCount,
    check_ids,
    check_message_ids,
)
from services.shared.projection_guard import ProjectionGuard
from services.shared.settings import Settings

__all__ = [
    "CampaignLimit",
    "CapDecision",
    "Dispatch",
    "FrequencyCapPolicy",
    "InMemoryQuota",
    "QuotaAnswer",
    "QuotaPort",
    "RedisQuota",
    "Release",
    "Reservation",
    "WeekCount",
    "cap_history_guard",
    "check_ids",
    "check_message_ids",
    "frequency_cap_for",
    "open_quota",
]


def cap_history_guard(
    settings: Settings, quota: RedisQuota, clock: Callable[[], datetime]
) -> ProjectionGuard:
    """The guard of the frequency cap's sent history (projection "frequency-cap"): it
    refolds from crm.outbound-messages what Redis lost, before the cap is asked again."""
    return _store_guard(settings, quota.store, clock)
