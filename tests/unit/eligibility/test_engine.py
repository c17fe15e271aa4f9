"""The engine over plain dicts: rows round-trip through JSON as faust stores them."""

import json
import uuid
from datetime import UTC, datetime

from schemas.engagement import MessageDelivered, MessageRead
from services.eligibility.engine import Engine
from services.policy import load_policy
from tests.unit.eligibility.builders import metrics


class JsonTable(dict):  # type: ignore[type-arg]
    """Stores what faust's json serializer would give back."""

    def __setitem__(self, key: str, value: object) -> None:
        super().__setitem__(key, json.loads(json.dumps(value)))


def _engine() -> Engine:
    return Engine(
        JsonTable(),
        JsonTable(),
        JsonTable(),
        load_policy(),
        lambda: datetime(2024, 7, 1, tzinfo=UTC),
    )


def _engagement(kind: str, message: str, at: datetime) -> MessageDelivered | MessageRead:
    base = dict(
        event_id=uuid.uuid4(),
        occurred_at=at,
        message_id=message,
        plan_id="p",
        seller_id="s1",
        customer_id="c",
    )
    if kind == "delivered":
        return MessageDelivered.model_validate({**base, "delivered_at": at})
    return MessageRead.model_validate({**base, "read_at": at})


def test_engagement_before_the_market_is_known_waits_then_counts() -> None:
    engine = _engine()
    at = datetime(2024, 6, 22, 5, 0, tzinfo=UTC)  # June 21 in LA: the July window
    engine.on_delivered(_engagement("delivered", "m1", at))  # type: ignore[arg-type]
    engine.on_read(_engagement("read", "m1", at))  # type: ignore[arg-type]
    engine.on_read(_engagement("read", "m1", at))  # type: ignore[arg-type]
    assert engine.tally("s1") is None
    assert len(engine.seller("s1").pending) == 3
    engine.on_metrics(metrics("2024-06-01", market="US"))
    tally = engine.tally("s1")
    assert tally is not None
    assert tally.windows["2024-07"].delivered == 1
    assert tally.windows["2024-07"].read == 1
    assert engine.seller("s1").pending == ()


def test_evaluation_round_trips_through_json_rows() -> None:
    engine = _engine()
    engine.on_metrics(metrics("2024-06-01", market="TH"))
    changed = engine.evaluate(["s1"], "TH", "2024-07")
    assert [s.access for _, s in changed] == ["active"]
    engine.commit(state for state, _ in changed)
    assert engine.evaluate(["s1"], "TH", "2024-07") == []  # unchanged: nothing to publish
    assert engine.evaluate(["s1"], "US", "2024-07") == []  # another market's tick
