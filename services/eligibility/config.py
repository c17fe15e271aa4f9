"""The eligibility worker's own settings (CRM_ELIGIBILITY_*), beside the shared CRM_* ones."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class EligibilitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_ELIGIBILITY_", frozen=True, extra="ignore")

    # State lives in memory, read back from the changelog topic (crm.eligibility-state)
    # when a partition is taken: no local files.
    # Emit EvaluationDue at 00:00 market-local on the 1st (the ticks partition's owner).
    scheduler: bool = True
    scheduler_interval_seconds: float = 60.0
