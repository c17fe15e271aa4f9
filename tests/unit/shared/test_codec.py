from __future__ import annotations

import json
import time

import pytest

from services.shared.admission import Plausibility, admit
from services.shared.codec import DecodeError, decode, encode
from tests.malformed import CASES, metrics


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_records_are_refused_with_a_reason(case) -> None:  # type: ignore[no-untyped-def]
    # What every consume loop calls: the schema, then the key and the times.
    with pytest.raises(DecodeError) as caught:
        admit(
            "crm.seller-metrics",
            case.raw,
            key=b"seller-th-001",
            timestamp_ms=int(time.time() * 1000),
            max_bytes=64 * 1024,
            rule=Plausibility(),
        )
    assert case.reason.lower() in caught.value.reason.lower()


def test_valid_record_round_trips() -> None:
    raw = json.dumps(metrics()).encode()
    event = decode("crm.seller-metrics", raw)
    assert decode("crm.seller-metrics", encode(event)) == event
    assert json.loads(encode(event)) == json.loads(raw)


def test_any_topic_decoding_knows_every_event_type() -> None:
    event = decode(None, json.dumps(metrics()).encode())
    assert event.event_type == "SellerMetricsReported"
