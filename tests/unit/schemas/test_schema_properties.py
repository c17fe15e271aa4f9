"""Property: any valid event survives encode and decode unchanged, offsets included."""

from datetime import datetime, timedelta, timezone
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.markets import Market
from schemas.seller import MAX_EXTRA_METRICS, SellerMetricsReported
from schemas.topics import adapter_for

pytestmark = pytest.mark.unit

identifiers = st.text(st.characters(codec="utf-8"), min_size=1, max_size=128).filter(
    lambda text: not text[0].isspace() and not text[-1].isspace()
)

# RFC 3339 offsets are whole minutes; real zones span -12:00 to +14:00.
offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def seller_metrics(draw: st.DrawFn) -> SellerMetricsReported:
    received = draw(st.integers(min_value=0, max_value=10**12))
    return SellerMetricsReported(
        event_id=draw(st.uuids()),
        occurred_at=draw(aware_datetimes),
        seller_id=draw(identifiers),
        market=draw(st.sampled_from(get_args(Market))),
        metrics_date=draw(st.dates()),
        chats_received=received,
        chats_responded_12h=draw(st.integers(min_value=0, max_value=received)),
        ses=draw(st.none() | st.floats(min_value=0, max_value=5)),
        violation_points=draw(st.integers(min_value=0, max_value=10**6)),
        extra=draw(st.dictionaries(identifiers, finite_floats, max_size=MAX_EXTRA_METRICS)),
    )


@given(seller_metrics())
def test_seller_metrics_survive_encode_and_decode(event: SellerMetricsReported) -> None:
    decoded = adapter_for("crm.seller-metrics").validate_json(event.model_dump_json())

    assert decoded == event
    assert decoded.occurred_at.utcoffset() == event.occurred_at.utcoffset()
