"""The eligibility worker's own settings (CRM_ELIGIBILITY_*), beside the shared CRM_* ones."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    state = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local/state"))
    return Path(os.environ.get("CRM_STATE_DIR", state / "crm")) / "eligibility"


class EligibilitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_ELIGIBILITY_", frozen=True, extra="ignore")

    # rocksdb:// keeps table state on disk (restored from changelogs when lost);
    # memory:// rebuilds every table from its changelog at each start.
    store: str = "rocksdb://"
    data_dir: Path = _default_data_dir()
    # Emit EvaluationDue at 00:00 market-local on the 1st (leader only).
    scheduler: bool = True
    scheduler_interval_seconds: float = 60.0
