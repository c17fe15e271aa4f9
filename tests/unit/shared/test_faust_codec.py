from __future__ import annotations

import json

import pytest
from faust.serializers import codecs

from services.shared.codec import DecodeError
from services.shared.faust_codec import CODEC_NAME
from tests.malformed import metrics


def test_faust_codec_round_trips_events_by_name() -> None:
    raw = json.dumps(metrics()).encode()
    event = codecs.loads(CODEC_NAME, raw)
    assert type(event).__name__ == "SellerMetricsReported"
    assert codecs.loads(CODEC_NAME, codecs.dumps(CODEC_NAME, event)) == event


def test_faust_codec_refuses_what_is_not_an_event() -> None:
    with pytest.raises(TypeError, match="encodes schema events"):
        codecs.dumps(CODEC_NAME, {"event_type": "SellerMetricsReported"})
    with pytest.raises(DecodeError, match="chats_responded_12h"):
        codecs.loads(CODEC_NAME, json.dumps(metrics(chats_received=1)).encode())
