"""The same wire format for faust topics: `value_serializer="crm"` after importing this.

Only for topics this system writes itself (state, internal topics): input topics
from other teams are read with `value_serializer="raw"` and decoded through
`services.shared.codec.decode`, so that a bad record can be dead-lettered with its
reason instead of being skipped inside faust.
"""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs

from schemas.envelope import Event
from services.shared.codec import decode, encode

CODEC_NAME = "crm"


class EventCodec(codecs.Codec):
    """Any registry event to canonical JSON bytes and back (event_type picks the class)."""

    def _dumps(self, obj: Any) -> bytes:
        if not isinstance(obj, Event):
            raise TypeError(f"{CODEC_NAME} codec encodes schema events, not {type(obj).__name__}")
        return encode(obj)

    def _loads(self, s: bytes) -> Any:
        return decode(None, s)


codecs.register(CODEC_NAME, EventCodec())
