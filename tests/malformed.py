"""A catalogue of bad input for crm.seller-metrics: what upstream bugs look like.

Each case is raw bytes as they could arrive on the topic, and a fragment the
reason must contain, so a person reading crm.dead-letters knows what to fix.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any


def metrics(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": "SellerMetricsReported",
        "schema_version": 1,
        "occurred_at": "2024-06-02T02:00:00+07:00",
        "seller_id": "seller-th-001",
        "market": "TH",
        "metrics_date": "2024-06-01",
        "chats_received": 120,
        "chats_responded_12h": 111,
        "ses": 4.2,
        "violation_points": 2,
        "extra": {"late_dispatch_rate": 0.03},
    }
    event.update(overrides)
    return event


def _json(**overrides: Any) -> bytes:
    return json.dumps(metrics(**overrides)).encode()


def _without(field: str) -> bytes:
    event = metrics()
    del event[field]
    return json.dumps(event).encode()


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes | None
    reason: str  # a fragment the reason must contain (case-insensitive)
    line: bool = True  # can be written as one line of a JSON-lines file
    wrapped: bool = False  # as a line, it names its topic (a bare event picks its own)

    def line_text(self) -> str:
        assert self.raw is not None
        assert self.line
        if self.wrapped:
            value = json.loads(self.raw)
            return json.dumps(
                {"topic": "crm.seller-metrics", "key": "seller-th-001", "value": value}
            )
        return self.raw.decode()


READ = {
    "event_id": str(uuid.uuid4()),
    "event_type": "MessageRead",
    "schema_version": 1,
    "occurred_at": "2024-06-05T10:30:00+07:00",
    "message_id": "m-1",
    "plan_id": "plan-1",
    "seller_id": "seller-th-001",
    "customer_id": "cust-1",
    "read_at": "2024-06-05T10:29:58+07:00",
}

CASES: list[Case] = [
    Case("not_json", b"{not json", "invalid json"),
    Case("json_array", b"[1, 2, 3]", "object"),
    Case("missing_field", _without("chats_received"), "chats_received"),
    Case("wrong_type", _json(chats_received="lots"), "chats_received"),
    Case("number_as_string", _json(chats_received="120"), "chats_received"),
    Case("unknown_event_type", _json(event_type="SellerMetricsReportd"), "SellerMetricsReportd"),
    Case("event_of_another_topic", json.dumps(READ).encode(), "MessageRead", wrapped=True),
    Case(
        "responded_over_received",
        _json(chats_received=100, chats_responded_12h=111),
        "chats_responded_12h",
    ),
    Case("negative_count", _json(chats_received=-1, chats_responded_12h=0), "chats_received"),
    Case("ses_above_5", _json(ses=7), "ses"),
    Case("negative_violation_points", _json(violation_points=-3), "violation_points"),
    Case("impossible_date", _json(metrics_date="2024-02-30"), "metrics_date"),
    Case("naive_timestamp", _json(occurred_at="2024-06-02T02:00:00"), "occurred_at"),
    Case("event_id_not_uuid", _json(event_id="42"), "event_id"),
    Case("unknown_market", _json(market="XX"), "market"),
    Case("future_schema_version", _json(schema_version=2), "schema_version"),
    Case("misspelt_field", _json(chats_recieved=3), "chats_recieved"),
    Case("empty_seller_id", _json(seller_id=""), "seller_id"),
    Case("non_numeric_extra", _json(extra={"late_dispatch_rate": "high"}), "extra"),
    Case("nan_in_extra", _json(extra={"rate": 0.1}).replace(b"0.1", b"NaN"), "nan"),
    Case("oversize_payload", _json(extra={f"m{i}": 0.5 for i in range(10000)}), "too large"),
    Case("year_1", _json(occurred_at="0001-01-01T00:00:00+00:00"), "before 2000-01-01"),
    Case("year_9999", _json(occurred_at="9999-12-31T23:59:59-14:00"), "after the record"),
    Case("metrics_date_year_1", _json(metrics_date="0001-01-01"), "metrics_date"),
    Case("metrics_date_year_9999", _json(metrics_date="9999-12-31"), "metrics_date"),
    Case("not_utf8", b'{"event_type": "\xff\xfe"}', "utf-8", line=False),
    Case("tombstone", None, "empty", line=False),
]
