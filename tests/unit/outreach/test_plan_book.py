"""The processor's state: latest version wins, due plans come once, a batch's changes
reach the book only when committed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.plans import Plan, PlanContent
from services.outreach.plan_book import Draft, PlanBook

NOW = datetime(2024, 7, 3, 5, 0, tzinfo=UTC)


def _plan(plan_id: str, version: int, status: str = "scheduled", **fields: Any) -> Plan:
    values: dict[str, Any] = {
        "type": "one_time",
        "name": "Sale",
        "segment_id": "repeat_customers",
        "content": PlanContent(default_language="en", texts={"en": "Hi"}),
        "send_at": NOW,
        "plan_id": plan_id,
        "seller_id": "s1",
        "created_by": "owner",
        "status": status,
        "version": version,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Plan(**{**values, **fields})


def test_an_older_version_read_twice_does_not_win() -> None:
    book = PlanBook()
    book.apply(_plan("p1", 2, "draft"), deleted=False, partition=0)
    book.apply(_plan("p1", 1, "draft", name="old"), deleted=False, partition=0)
    assert book.get("s1", "p1") == _plan("p1", 2, "draft")


def test_due_plans_come_in_send_order_and_leave_once_moved_on() -> None:
    book = PlanBook()
    book.apply(_plan("late", 3, send_at=NOW + timedelta(minutes=5)), deleted=False, partition=1)
    book.apply(_plan("early", 3, send_at=NOW - timedelta(minutes=5)), deleted=False, partition=1)
    book.apply(_plan("now", 3), deleted=False, partition=1)
    assert [p.plan_id for p in book.due(NOW)] == ["early", "now"]
    assert book.next_due() == NOW - timedelta(minutes=5)

    book.apply(_plan("early", 4, "sending"), deleted=False, partition=1)
    assert [p.plan_id for p in book.due(NOW)] == ["now"]
    assert book.next_due() == NOW


def test_a_draft_is_invisible_to_the_book_until_committed() -> None:
    book = PlanBook()
    book.apply(_plan("p1", 1, "draft"), deleted=False, partition=2)
    draft = Draft(book)
    draft.put(_plan("p1", 2, "draft", name="edited"))
    draft.put(_plan("p2", 1, "draft"), deleted=True)
    assert draft.get("s1", "p1") is not None
    assert draft.get("s1", "p1").name == "edited"  # type: ignore[union-attr]
    assert draft.get("s1", "p2") is None
    assert book.get("s1", "p1").name == "Sale"  # type: ignore[union-attr]

    draft.commit({"s1": 2})
    assert book.get("s1", "p1").name == "edited"  # type: ignore[union-attr]
    assert book.get("s1", "p2") is None


def test_forgetting_a_partition_drops_its_sellers_and_their_due_plans() -> None:
    book = PlanBook()
    book.apply(_plan("p1", 1), deleted=False, partition=4)
    book.forget_partitions({4})
    assert book.get("s1", "p1") is None
    assert book.due(NOW) == []
    assert book.next_due() is None
