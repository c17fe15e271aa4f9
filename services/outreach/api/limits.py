"""The seller API's limits (SPEC section 7), from CRM_API_* variables.

The defaults are generous enough for the demo, the benchmark and the test suite; the
tests of each limit set small values.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiLimits(BaseSettings):
    # CRM_API_PORT belongs to the shared settings; extra="ignore" leaves it there.
    model_config = SettingsConfigDict(env_prefix="CRM_API_", frozen=True, extra="ignore")

    # Per seller token bucket: sustained requests per second, and the burst it allows.
    rate_per_second: float = Field(default=20.0, gt=0)
    rate_burst: int = Field(default=100, ge=1)
    # A request body larger than this is refused with 413 without being read further.
    max_body_bytes: int = Field(default=1024 * 1024, ge=0)
    # A token whose lifetime (exp - iat, or exp - now without iat) is longer is refused.
    max_token_lifetime_seconds: int = Field(default=24 * 3600, ge=1)
