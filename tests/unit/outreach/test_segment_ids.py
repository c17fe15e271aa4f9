"""Outreach asks customers' port which custom segments a seller has now (the in-memory
fake stands in for Redis)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from schemas.segments import SegmentCondition, SegmentDefined, SegmentDeleted
from services.customers.port import InMemoryCustomerStore
from services.outreach.segment_ids import live_segment_ids

pytestmark = pytest.mark.unit

AT = datetime(2024, 7, 1, tzinfo=UTC)


def _defined(seller: str, segment: str) -> SegmentDefined:
    return SegmentDefined(
        event_id=uuid.uuid4(),
        occurred_at=AT,
        seller_id=seller,
        segment_id=segment,
        account_id="a1",
        name=segment,
        conditions=[SegmentCondition(field="is_follower", op="is_true")],
    )


async def test_live_ids_leave_out_deleted_segments_and_other_sellers() -> None:
    customers = InMemoryCustomerStore()
    await customers.apply_segment_event(_defined("s1", "fans"), 1)
    await customers.apply_segment_event(_defined("s1", "gone"), 2)
    await customers.apply_segment_event(_defined("s2", "theirs"), 1)
    deleted = SegmentDeleted(
        event_id=uuid.uuid4(), occurred_at=AT, seller_id="s1", segment_id="gone", account_id="a1"
    )
    await customers.apply_segment_event(deleted, 3)

    live = live_segment_ids(customers)

    assert await live("s1") == frozenset({"fans"})
    assert await live("s3") == frozenset()
