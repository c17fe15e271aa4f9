"""The policy book every service decides with: services/policy/default.toml, or the
file CRM_POLICY names (SPEC section 2). `crm policy show` prints the one in force."""

from __future__ import annotations

import tomllib
from pathlib import Path

from services.policy.domain import Policy, PolicyBook, policy_book
from services.shared.settings import Settings

DEFAULT_POLICY = Path(__file__).with_name("default.toml")

__all__ = ["DEFAULT_POLICY", "Policy", "PolicyBook", "load_policy", "policy_of"]


def load_policy(path: Path | None = None) -> PolicyBook:
    """Parse and validate; a bad policy raises here, at start, naming the problem."""
    with (path or DEFAULT_POLICY).open("rb") as handle:
        return policy_book(tomllib.load(handle))


def policy_of(settings: Settings) -> PolicyBook:
    """The book the settings name (CRM_POLICY), else the default one."""
    return load_policy(settings.policy)
