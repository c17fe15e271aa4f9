"""A plan's fan-out progress, folded from crm.delivery-progress."""

from __future__ import annotations

from schemas.delivery import DeliveryProgressed


def newer(current: DeliveryProgressed | None, incoming: DeliveryProgressed) -> DeliveryProgressed:
    """The later of two records of one plan. Counts only grow and `done` comes last, so
    the record with more handled recipients (or the finished one) is the later."""
    if current is None:
        return incoming
    if (incoming.done, incoming.recipients) >= (current.done, current.recipients):
        return incoming
    return current
