"""Malformed events are refused, and `describe` names the problem in one readable line."""

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.errors import describe
from schemas.seller import SellerMetricsReported
from schemas.topics import adapter_for

pytestmark = pytest.mark.unit

DROP = object()  # as a change: remove the field


@dataclass(frozen=True)
class Case:
    expected: str  # a substring of describe(...)
    event_type: str = "SellerMetricsReported"  # the example to start from
    changes: dict[str, Any] = field(default_factory=dict)
    raw: str | bytes | None = None  # sent instead of the changed example
    topic: str | None = None  # default: the example's own topic


CASES = {
    "not-json": Case("invalid JSON: ", raw="{not json"),
    "not-utf8": Case("invalid JSON: ", raw=b'{"seller_id": "\xff"}'),
    "array-not-object": Case("event: must be a JSON object, got an array", raw="[1, 2]"),
    "missing-field": Case("seller_id: Field required", changes={"seller_id": DROP}),
    "missing-event-type": Case("event_type: Field required", changes={"event_type": DROP}),
    "string-for-int": Case(
        'chats_received: Input should be a valid integer (got "120")',
        changes={"chats_received": "120"},
    ),
    "fraction-for-int": Case(
        "violation_points: Input should be a valid integer", changes={"violation_points": 2.5}
    ),
    "string-for-bool": Case(
        'approved: Input should be a valid boolean (got "true")',
        event_type="AppealDecided",
        changes={"approved": "true"},
    ),
    "unknown-event-type": Case(
        "event_type: unknown event type 'Foo' (expected one of SellerMetricsReported)",
        changes={"event_type": "Foo"},
    ),
    "event-type-of-another-topic": Case(
        "event_type: 'MessageRead' belongs on topic crm.chat-engagement, not this one",
        event_type="MessageRead",
        topic="crm.seller-metrics",
    ),
    "schema-version-2": Case(
        "schema_version: unsupported version 2 (supported: 1)", changes={"schema_version": 2}
    ),
    "responded-over-received": Case(
        "chats_responded_12h: must be <= chats_received (111 > 100)",
        changes={"chats_received": 100},
    ),
    "negative-chats-received": Case(
        "chats_received: Input should be greater than or equal to 0 (got -1)",
        changes={"chats_received": -1, "chats_responded_12h": 0},
    ),
    "ses-above-5": Case("ses: Input should be less than or equal to 5", changes={"ses": 7}),
    "ses-below-0": Case("ses: Input should be greater than or equal to 0", changes={"ses": -1}),
    "negative-violation-points": Case(
        "violation_points: Input should be greater than or equal to 0",
        changes={"violation_points": -3},
    ),
    "impossible-metrics-date": Case(
        "metrics_date: Input should be a valid date in the format YYYY-MM-DD, day value is "
        'outside expected range (got "2024-02-30")',
        changes={"metrics_date": "2024-02-30"},
    ),
    "naive-occurred-at": Case(
        "occurred_at: Input should have timezone info",
        changes={"occurred_at": "2024-06-02T02:00:00"},
    ),
    "event-id-not-uuid": Case(
        "event_id: Input should be a valid UUID", changes={"event_id": "evt-1"}
    ),
    "unknown-market": Case(
        "market: Input should be 'TH', 'ID', 'MY', 'VN', 'PH', 'SG', 'US' or 'GB' (got \"XX\")",
        changes={"market": "XX"},
    ),
    "unknown-top-level-field": Case(
        "priority: Extra inputs are not permitted", changes={"priority": "high"}
    ),
    "empty-seller-id": Case(
        "seller_id: String should have at least 1 character", changes={"seller_id": ""}
    ),
    "untrimmed-seller-id": Case(
        'seller_id: must be free of leading and trailing whitespace, got "seller-th-001 "',
        changes={"seller_id": "seller-th-001 "},
    ),
    "overlong-seller-id": Case(
        "seller_id: String should have at most 128 characters", changes={"seller_id": "s" * 129}
    ),
    "nan-in-extra": Case(
        "extra.late_dispatch_rate: Input should be a finite number (got NaN)",
        changes={"extra": {"late_dispatch_rate": float("nan")}},
    ),
    "infinity-in-extra": Case(
        "extra.x: Input should be a finite number (got Infinity)",
        changes={"extra": {"x": float("inf")}},
    ),
    "non-numeric-extra": Case(
        'extra.x: Input should be a valid number (got "high")', changes={"extra": {"x": "high"}}
    ),
    "empty-extra-name": Case(
        "extra key '': String should have at least 1 character", changes={"extra": {"": 1}}
    ),
    "too-many-extra": Case(
        "extra: Dictionary should have at most 50 items",
        changes={"extra": {f"m{index}": 1 for index in range(51)}},
    ),
    "outbound-text-over-500": Case(
        "text: String should have at most 500 characters",
        event_type="OutboundMessage",
        changes={"text": "a" * 501},
    ),
    "outbound-five-products": Case(
        "product_ids: List should have at most 4 items",
        event_type="OutboundMessage",
        changes={"product_ids": ["p1", "p2", "p3", "p4", "p5"]},
    ),
    "button-type-not-allowed": Case(
        "button.type: Input should be 'product_detail', 'product_list', 'shop_home' or 'coupon'",
        event_type="OutboundMessage",
        changes={"button": {"type": "cart"}},
    ),
    "iso-week-60": Case(
        "week: must be an ISO week 'YYYY-Www' (W01-W53), got \"2024-W60\"",
        event_type="QuotaReserved",
        changes={"week": "2024-W60"},
    ),
    "iso-week-53-of-a-52-week-year": Case(
        "week: ISO year 2024 has no week 53",
        event_type="QuotaReleased",
        changes={"week": "2024-W53"},
    ),
    "month-13": Case(
        "effective_month: must be a month 'YYYY-MM' (01-12), got \"2024-13\"",
        event_type="EvaluationDue",
        changes={"effective_month": "2024-13"},
    ),
    "window-start-equals-end": Case(
        "window_end: must be after window_start (2024-06-22 >= 2024-06-22)",
        event_type="SellerStatusChanged",
        changes={"window_start": "2024-06-22"},
    ),
    "window-start-after-end": Case(
        "window_end: must be after window_start (2024-07-01 >= 2024-06-22)",
        event_type="SellerStatusChanged",
        changes={"window_start": "2024-07-01"},
    ),
    "level-6": Case(
        "level: Input should be less than or equal to 5",
        event_type="SellerStatusChanged",
        changes={"level": 6},
    ),
    "criterion-without-passed": Case(
        "criteria[0].passed: Field required",
        event_type="SellerStatusChanged",
        changes={
            "criteria": [{"name": "ses", "value": 4.2, "op": ">=", "threshold": 3.5, "note": None}]
        },
    ),
    "read-rate-above-1": Case(
        "performance.read_rate: Input should be less than or equal to 1",
        event_type="SellerStatusChanged",
        changes={
            "performance": {
                "delivered": 10,
                "read": 20,
                "blocked": 0,
                "read_rate": 2.0,
                "block_rate": 0.0,
            }
        },
    ),
    "click-target-not-allowed": Case(
        "target: Input should be 'product_detail', 'product_list', 'shop_home' or 'coupon'",
        event_type="MessageClicked",
        changes={"target": "cart"},
    ),
    "shop-blocked-without-message-id-key": Case(
        "message_id: Field required", event_type="ShopBlocked", changes={"message_id": DROP}
    ),
    "lowercase-currency": Case(
        "currency: String should match pattern '^[A-Z]{3}$' (got \"thb\")",
        event_type="OrderPlaced",
        changes={"currency": "thb"},
    ),
    "negative-gmv": Case(
        "gmv: Input should be greater than or equal to 0",
        event_type="OrderPlaced",
        changes={"gmv": -1.5},
    ),
    "unknown-permission": Case(
        "permission: Input should be 'customers'",
        event_type="PermissionGranted",
        changes={"permission": "admin"},
    ),
    "appeal-text-over-2000": Case(
        "text: String should have at most 2000 characters",
        event_type="AppealSubmitted",
        changes={"text": "a" * 2001},
    ),
    "negative-dead-letter-offset": Case(
        "offset: Input should be greater than or equal to 0",
        event_type="DeadLetter",
        changes={"offset": -1},
    ),
}


def _input(case: Case, examples: dict[str, dict[str, Any]]) -> tuple[str, str | bytes]:
    line = examples[case.event_type]
    if case.raw is not None:
        return case.topic or line["topic"], case.raw
    value = dict(line["value"])
    for name, change in case.changes.items():
        if change is DROP:
            del value[name]
        else:
            value[name] = change
    # json.dumps writes NaN and Infinity as bare words, as some producers do.
    return case.topic or line["topic"], json.dumps(value)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_malformed_event_is_refused_with_a_reason(
    case: Case, examples: dict[str, dict[str, Any]]
) -> None:
    topic_name, raw = _input(case, examples)

    with pytest.raises(ValidationError) as refused:
        adapter_for(topic_name).validate_json(raw)

    assert case.expected in describe(refused.value)


def test_describe_gives_one_clean_line_per_problem(examples: dict[str, dict[str, Any]]) -> None:
    value = {**examples["SellerMetricsReported"]["value"], "ses": 7, "market": "XX"}

    with pytest.raises(ValidationError) as refused:
        adapter_for("crm.seller-metrics").validate_json(json.dumps(value))
    text = describe(refused.value)

    assert text.split("; ") == [
        "market: Input should be 'TH', 'ID', 'MY', 'VN', 'PH', 'SG', 'US' or 'GB' (got \"XX\")",
        "ses: Input should be less than or equal to 5 (got 7)",
    ]
    assert "SellerMetricsReported" not in text
    assert "http" not in text
    assert "\n" not in text


def test_describe_names_the_field_when_validating_one_class_directly(
    examples: dict[str, dict[str, Any]],
) -> None:
    value = {**examples["SellerMetricsReported"]["value"], "chats_received": 5}

    with pytest.raises(ValidationError) as refused:
        SellerMetricsReported.model_validate_json(json.dumps(value))

    assert describe(refused.value) == "chats_responded_12h: must be <= chats_received (111 > 5)"
