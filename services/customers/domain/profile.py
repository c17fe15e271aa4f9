"""A customer's attributes, from crm.customer-profiles (one per customer, shared by sellers).

Each CustomerProfileUpdated is a full snapshot, so the latest one wins outright.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from pydantic import AwareDatetime

from schemas.customer import CustomerProfileUpdated
from schemas.envelope import StrictModel
from schemas.types import Label

PROFILE_ATTRIBUTES = ("region", "city", "gender", "age_band", "language")


class Profile(StrictModel):
    """The customer's attributes as of `updated_at`; None means unknown."""

    region: Label | None = None
    city: Label | None = None
    gender: Label | None = None
    age_band: Label | None = None
    language: Label | None = None
    # How the shop may address the customer ({customer_name}); not a segment attribute.
    name: Label | None = None
    updated_at: AwareDatetime

    def attribute(self, name: str) -> str | None:
        if name not in PROFILE_ATTRIBUTES:
            raise ValueError(f"{name!r} is not a profile attribute")
        value: str | None = getattr(self, name)
        return value


class MessageProfile(NamedTuple):
    """What a message needs of a customer's profile: the language to write in (None: the
    plan's default) and the name to address them by."""

    language: str | None
    name: str | None


def profile_from(event: CustomerProfileUpdated) -> Profile:
    return Profile(
        region=event.region,
        city=event.city,
        gender=event.gender,
        age_band=event.age_band,
        language=event.language,
        name=event.name,
        updated_at=event.occurred_at.astimezone(UTC),
    )


def evolve_profile(current: Profile | None, event: CustomerProfileUpdated) -> Profile:
    """The later snapshot of the two. Two snapshots at the same instant are ordered by
    their values, so the outcome never depends on which arrived last."""
    incoming = profile_from(event)
    if current is None:
        return incoming
    return max(current, incoming, key=_rank)


def _rank(profile: Profile) -> tuple[datetime, tuple[str, ...]]:
    # Unknown sorts as "", which no known value can be (labels are never empty).
    values = tuple(profile.attribute(name) or "" for name in PROFILE_ATTRIBUTES)
    return profile.updated_at, (*values, profile.name or "")
