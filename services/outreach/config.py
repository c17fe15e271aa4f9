"""Outreach's own settings (CRM_OUTREACH_*), beside the shared CRM_* ones."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class OutreachSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_OUTREACH_", frozen=True, extra="ignore")

    # How long the API waits for the plan processor's answer before a 503.
    reply_timeout_seconds: float = 5.0
    # Retry-After of that 503.
    retry_after_seconds: int = 2
