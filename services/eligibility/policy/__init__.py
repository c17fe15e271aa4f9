"""Loading the policy book: policy/default.toml, or the file CRM_ELIGIBILITY_POLICY names."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from services.eligibility.domain.policy import PolicyBook, policy_book

DEFAULT_POLICY = Path(__file__).with_name("default.toml")


def load_policy(path: Path | None = None) -> PolicyBook:
    """Parse and validate; a bad policy raises here, at start, naming the problem."""
    chosen = path or Path(os.environ.get("CRM_ELIGIBILITY_POLICY", DEFAULT_POLICY))
    with chosen.open("rb") as handle:
        return policy_book(tomllib.load(handle))
