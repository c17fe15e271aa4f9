"""The policy book: every rule's numbers as data — eligibility thresholds, the level
table, weekly quotas and the frequency cap — with a default and per-market overrides,
under one version (SPEC section 2).

Eligibility decides with it, quota and delivery cap messages with it; each is handed
the book (or one market's policy) rather than reading a file, so rules stay pure.
A book is validated when it is loaded (at start), so a bad edit stops the deploy
instead of producing odd decisions; every decision records its version.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.markets import MARKET_TIME_ZONES


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Op = Literal["<", "<=", ">", ">=", "==", "!="]


class ExtraRule(_Frozen):
    """The latest value of an `extra` business metric in the window, compared with a threshold."""

    name: str = Field(min_length=1)
    op: Op
    threshold: float


class EligibilityRules(_Frozen):
    response_rate_min: float = Field(ge=0, le=1)
    ses_min: float = Field(ge=0, le=5)
    violation_points_below: int = Field(ge=1)
    extra: tuple[ExtraRule, ...] = ()


class LevelRow(_Frozen):
    level: int = Field(ge=1, le=5)
    match: Literal["all", "any"] = "all"
    read_rate_at_least: float | None = None
    read_rate_below: float | None = None
    block_rate_at_least: float | None = None
    block_rate_below: float | None = None

    @property
    def unconditional(self) -> bool:
        return all(
            b is None
            for b in (
                self.read_rate_at_least,
                self.read_rate_below,
                self.block_rate_at_least,
                self.block_rate_below,
            )
        )


class LevelRules(_Frozen):
    min_delivered: int = Field(ge=0)
    new_seller_level: int = Field(ge=1, le=5)
    rows: tuple[LevelRow, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _last_row_catches_all(self) -> Self:
        if not self.rows[-1].unconditional:
            raise ValueError("the last level row must have no bounds (it catches every seller)")
        return self


class QuotaRules(_Frozen):
    weekly: dict[int, int]

    @model_validator(mode="after")
    def _every_level_has_a_quota(self) -> Self:
        missing = sorted(set(range(1, 6)) - set(self.weekly))
        if missing:
            raise ValueError(f"weekly quota missing for levels {missing}")
        if any(q < 0 for q in self.weekly.values()):
            raise ValueError("weekly quotas must be >= 0")
        return self


class FrequencyCapRules(_Frozen):
    """At most `max_messages` broadcast messages from one seller to one customer in any
    rolling `window_days` (SPEC section 5: 2 in 7 days by default)."""

    max_messages: int = Field(ge=1)
    window_days: int = Field(ge=1)

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)


class Policy(_Frozen):
    version: str = Field(min_length=1)
    eligibility: EligibilityRules
    level: LevelRules
    quota: QuotaRules
    frequency_cap: FrequencyCapRules

    def weekly_quota(self, level: int) -> int:
        return self.quota.weekly[level]


class PolicyBook(_Frozen):
    """The default policy and each market's effective policy (default merged with overrides)."""

    default: Policy
    markets: dict[str, Policy]

    @property
    def version(self) -> str:
        """The book's version: the default policy's (a market's is `<version>+XX`
        unless its override names one)."""
        return self.default.version

    def for_market(self, market: str | None) -> Policy:
        """The policy in force for `market`; the default while the market is unknown."""
        if market is None:
            return self.default
        return self.markets.get(market, self.default)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def policy_book(document: dict[str, Any]) -> PolicyBook:
    """Build and validate the book from a parsed policy document (see policy/default.toml).

    Raises pydantic.ValidationError or ValueError naming what is wrong.
    """
    body = {k: v for k, v in document.items() if k != "markets"}
    overrides: dict[str, Any] = document.get("markets", {})
    unknown = sorted(set(overrides) - set(MARKET_TIME_ZONES))
    if unknown:
        raise ValueError(f"policy overrides for unknown markets: {unknown}")
    default = Policy.model_validate(body)
    markets = {}
    for market, override in overrides.items():
        merged = _merge(body, override)
        if "version" not in override:
            merged["version"] = f"{default.version}+{market}"
        markets[market] = Policy.model_validate(merged)
    return PolicyBook(default=default, markets=markets)
