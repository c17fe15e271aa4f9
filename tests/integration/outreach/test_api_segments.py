"""/v1/segments over HTTP against the real Kafka and Redis: the SPEC's Java example, its
preview count over crafted customers, sizes after a recompute, errors and deletion."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from demo.sample_status import sample_status
from schemas.segments import SegmentDefined, SegmentDeleted
from schemas.seller import SellerMetricsReported
from services.customers.domain.profile import Profile
from services.customers.domain.relationship import fold
from services.customers.projection import TOPICS as PROJECTION_TOPICS
from services.customers.projection import CustomerProjection
from services.customers.recompute import Recompute
from services.customers.store import RedisCustomerStore
from services.delivery.performance.reader import no_segment_figures
from services.shared import groups
from services.shared.codec import decode, encode
from services.shared.consumer import DeadLetteringConsumer
from services.shared.kafka import new_producer
from services.shared.settings import Settings
from tests.integration.customers.segment_support import (
    JAVA_BUYERS,
    D,
    crafted_histories,
    crafted_profiles,
    fill,
    idn,
)
from tests.integration.kafka_io import read_records
from tests.integration.outreach.conftest import ApiUnderTest
from tests.integration.outreach.plans_api import one_time, plans_api, utc_now
from tests.integration.outreach.processor_support import OUTREACH_TOPICS
from tests.integration.outreach.support import assert_problem, eventually
from tests.unit.customers import builders as b

FEWER = "fewer_than_3_conditions"
BUILTINS = [
    "new_customers",
    "repeat_customers",
    "high_value_customers",
    "lapsed_customers",
    "followers_not_purchased",
    "cart_abandoners",
    "engaged_visitors",
]


@pytest.fixture
async def seller(api: ApiUnderTest, topics: Any, test_id: str) -> str:
    """A Jakarta shop: the crafted customers plus two more Java cases."""
    await topics("crm.segments")
    seller = f"seller-{test_id}"
    store = api.runtime.customers
    histories = crafted_histories()
    histories["fan-java-2"] = [b.followed(idn("2024-06-01")), b.viewed(idn("2024-07-01"))]
    histories["buyer-java"] = [b.followed(idn("2024-06-01")), b.ordered(idn("2024-06-02"))]
    await fill(store, seller, histories)
    profiles = crafted_profiles()
    at = profiles["fan-java"].updated_at
    profiles["fan-java-2"] = Profile(region="YO", updated_at=at)
    profiles["buyer-java"] = Profile(region="JK", updated_at=at)
    await store.save_profiles(profiles)
    return seller


async def test_the_java_example_is_saved_previewed_and_sized(
    api: ApiUnderTest, seller: str
) -> None:
    owner = api.auth(seller)
    preview = await api.client.post(
        "/v1/segments/preview", json={"conditions": JAVA_BUYERS}, headers=owner
    )
    assert preview.status_code == 200, preview.text
    # Java followers who never ordered: fan-java (JK) and fan-java-2 (YO). Not fan-bali
    # (BA), not fan-unknown (no profile), not buyer-java (ordered), not too-late (followed
    # at D 00:00, which today's count does not see yet).
    assert preview.json() == {"count": 2, "warnings": [], "as_of": D.isoformat()}

    created = await api.client.post(
        "/v1/segments",
        json={"name": "Java potential buyers", "conditions": JAVA_BUYERS},
        headers=owner,
    )
    assert created.status_code == 201, created.text
    segment = created.json()
    assert segment["name"] == "Java potential buyers"
    assert segment["builtin"] is False
    assert segment["conditions"] == JAVA_BUYERS
    assert (segment["warnings"], segment["size"], segment["as_of"]) == ([], None, None)
    segment_id = segment["segment_id"]

    # Read your writes: listed at once, after the seven built-in segments.
    listing = (await api.client.get("/v1/segments", headers=owner)).json()["items"]
    assert [s["segment_id"] for s in listing] == [*BUILTINS, segment_id]
    assert all(s["size"] is None and s["as_of"] is None for s in listing)
    assert listing[0]["name"] == "New customers"
    assert "conditions" not in listing[0]

    done = await _recompute(api).seller(seller)
    assert done.as_of == D
    listing = (await api.client.get("/v1/segments", headers=owner)).json()["items"]
    sizes = {s["segment_id"]: (s["size"], s["as_of"]) for s in listing}
    assert sizes[segment_id] == (2, D.isoformat())
    assert sizes["followers_not_purchased"] == (4, D.isoformat())
    assert sizes["cart_abandoners"] == (1, D.isoformat())
    one = (await api.client.get(f"/v1/segments/{segment_id}", headers=owner)).json()
    assert (one["size"], one["as_of"], one["performance_live"]) == (2, D.isoformat(), None)
    # No plan targeted it: the daily snapshot (as of yesterday) is zeros, never null.
    nothing_sent = {**no_segment_figures(), "as_of": (D - timedelta(days=1)).isoformat()}
    assert one["performance"] == nothing_sent
    builtin = (await api.client.get("/v1/segments/new_customers", headers=owner)).json()
    assert (builtin["builtin"], builtin["size"], builtin["performance"]) == (True, 1, nothing_sent)
    assert builtin["performance_live"] is None
    assert all(s["performance"] == nothing_sent for s in listing)

    records = await read_records(api.settings, "crm.segments", count=1)
    assert records[0].key == seller.encode()
    event = decode("crm.segments", records[0].value)
    assert isinstance(event, SegmentDefined)
    assert (event.segment_id, event.account_id) == (segment_id, seller)


async def test_fewer_than_3_conditions_are_allowed_with_a_warning(
    api: ApiUnderTest, seller: str
) -> None:
    owner = api.auth(seller)
    two = JAVA_BUYERS[:2]
    created = await api.client.post(
        "/v1/segments", json={"name": "Java followers", "conditions": two}, headers=owner
    )
    assert created.status_code == 201, created.text
    assert created.json()["warnings"] == ["fewer_than_3_conditions"]
    preview = await api.client.post("/v1/segments/preview", json={"conditions": two}, headers=owner)
    # Java followers: fan-java, fan-java-2 and buyer-java.
    assert preview.json() == {
        "count": 3,
        "warnings": ["fewer_than_3_conditions"],
        "as_of": D.isoformat(),
    }


@pytest.mark.parametrize(
    ("conditions", "field", "words"),
    [
        ([], "conditions", "at least one condition"),
        ([{"field": "region", "op": "gte", "value": "JK"}], "conditions[0].op", "region"),
        (
            [JAVA_BUYERS[0], {"field": "shoe_size", "op": "eq", "value": 42}],
            "conditions[1].field",
            "shoe_size",
        ),
        ([{"field": "order_count", "op": "eq", "value": -1}], "conditions[0].value", "≥ 0"),
        ([JAVA_BUYERS[0]] * 21, "conditions", "at most 20"),
    ],
)
async def test_bad_conditions_are_a_422_naming_the_condition(
    api: ApiUnderTest, seller: str, conditions: list[Any], field: str, words: str
) -> None:
    owner = api.auth(seller)
    for path, body in [
        ("/v1/segments", {"name": "Bad", "conditions": conditions}),
        ("/v1/segments/preview", {"conditions": conditions}),
    ]:
        problem = assert_problem(await api.client.post(path, json=body, headers=owner), 422)
        assert problem["errors"][0]["field"] == field, problem
        assert words in problem["errors"][0]["message"], problem


async def test_delete_a_custom_segment_but_never_a_builtin_one(
    api: ApiUnderTest, seller: str
) -> None:
    owner = api.auth(seller)
    created = await api.client.post(
        "/v1/segments", json={"name": "Java", "conditions": JAVA_BUYERS}, headers=owner
    )
    segment_id = created.json()["segment_id"]
    deleted = await api.client.delete(f"/v1/segments/{segment_id}", headers=owner)
    assert deleted.status_code == 204, deleted.text
    assert_problem(await api.client.get(f"/v1/segments/{segment_id}", headers=owner), 404)
    assert_problem(await api.client.delete(f"/v1/segments/{segment_id}", headers=owner), 404)
    listing = (await api.client.get("/v1/segments", headers=owner)).json()["items"]
    assert [s["segment_id"] for s in listing] == BUILTINS
    assert_problem(await api.client.delete("/v1/segments/new_customers", headers=owner), 409)
    assert_problem(await api.client.delete("/v1/segments/no-such-segment", headers=owner), 404)

    records = await read_records(api.settings, "crm.segments", count=2)
    events = [decode("crm.segments", r.value) for r in records]
    assert [type(e) for e in events] == [SegmentDefined, SegmentDeleted]


async def test_who_may_see_which_segments(api: ApiUnderTest, seller: str, test_id: str) -> None:
    owner = api.auth(seller)
    created = await api.client.post(
        "/v1/segments", json={"name": "Java", "conditions": JAVA_BUYERS}, headers=owner
    )
    segment_id = created.json()["segment_id"]
    path = f"/v1/segments/{segment_id}"

    assert_problem(await api.client.get("/v1/segments"), 401)
    assert_problem(await api.client.get(path, headers={"Authorization": "Bearer x.y.z"}), 401)
    helper = api.auth(seller, f"helper-{test_id}", role="sub")
    for method, url, body in [
        ("GET", "/v1/segments", None),
        ("GET", path, None),
        ("POST", "/v1/segments/preview", {"conditions": JAVA_BUYERS}),
        ("DELETE", path, None),
    ]:
        refused = await api.client.request(method, url, json=body, headers=helper)
        assert_problem(refused, 403)
    other = api.auth(f"other-{test_id}")
    assert_problem(await api.client.get(path, headers=other), 404)
    assert_problem(await api.client.delete(path, headers=other), 404)
    assert (await api.client.get(path, headers=owner)).status_code == 200


async def test_preview_needs_the_shops_market(api: ApiUnderTest, topics: Any, test_id: str) -> None:
    await topics("crm.segments")
    seller = f"nomarket-{test_id}"
    await api.runtime.customers.save_relationships(
        {seller: {"c1": fold([b.followed(idn("2024-06-01"))])}}
    )
    refused = await api.client.post(
        "/v1/segments/preview", json={"conditions": JAVA_BUYERS}, headers=api.auth(seller)
    )
    assert_problem(refused, 409)


async def test_a_plan_may_target_a_live_custom_segment(
    settings: Settings, topics: Any, redis_url: str, test_id: str
) -> None:
    await topics(*OUTREACH_TOPICS, "crm.segments")
    seller = f"s{test_id}"
    async with plans_api(settings.model_copy(update={"redis_url": redis_url})) as api:
        await api.set_status(sample_status(seller, occurred_at=utc_now()))
        owner = api.auth(seller)
        created = await api.client.post(
            "/v1/segments", json={"name": "Java", "conditions": JAVA_BUYERS}, headers=owner
        )
        segment_id = created.json()["segment_id"]
        plan = await api.create(seller, one_time(segment_id=segment_id))
        assert (plan["segment_id"], plan["status"]) == (segment_id, "draft")

        await api.client.delete(f"/v1/segments/{segment_id}", headers=owner)
        refused = await api.client.post(
            "/v1/plans", json=one_time(segment_id=segment_id), headers=owner
        )
        problem = assert_problem(refused, 422)
        assert [e["field"] for e in problem["errors"]] == ["segment_id"]


async def test_a_seller_known_only_from_a_metrics_report_gets_sizes_and_previews(
    api: ApiUnderTest, topics: Any, test_id: str
) -> None:
    """A shop that joined mid-month has no monthly status yet: its first metrics report
    (through the customers projection's consumer) gives it a calendar."""
    await topics(*PROJECTION_TOPICS)
    settings = api.settings
    seller = f"joined-{test_id}"
    store = api.runtime.customers
    await store.save_relationships({seller: {"fan": fold([b.followed(idn("2024-06-01"))])}})
    refused = await api.client.post(
        "/v1/segments/preview", json={"conditions": JAVA_BUYERS[1:]}, headers=api.auth(seller)
    )
    assert_problem(refused, 409)

    report = SellerMetricsReported(
        event_id=uuid.uuid4(),
        occurred_at=api.clock(),
        seller_id=seller,
        market="ID",
        metrics_date=D - timedelta(days=1),
        chats_received=5,
        chats_responded_12h=5,
        ses=None,
        violation_points=0,
    )
    producer = new_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic("crm.seller-metrics"), encode(report), key=seller.encode()
        )
    finally:
        await producer.stop()
    projection = CustomerProjection(_redis_store(api), _redis_store(api).definitions)
    consumer = DeadLetteringConsumer(
        settings,
        service="customers",
        topics=PROJECTION_TOPICS,
        group_id=groups.customers(settings),
        handler=projection.handle,
        flush=projection.flush,
    )
    stopping = asyncio.Event()
    consuming = asyncio.create_task(consumer.run(stopping))
    try:

        async def placed() -> bool:
            return await store.market(seller) == "ID"

        assert await eventually(placed, timeout=30)
    finally:
        stopping.set()
        await consuming

    owner = api.auth(seller)
    preview = await api.client.post(
        "/v1/segments/preview", json={"conditions": JAVA_BUYERS[1:]}, headers=owner
    )
    assert preview.status_code == 200, preview.text
    assert preview.json() == {"count": 1, "warnings": [FEWER], "as_of": D.isoformat()}
    # What `crm segments recompute` runs: every seller with customers or a known market.
    done = await _recompute(api).everyone()
    mine = next(d for d in done if d.seller_id == seller)
    assert (mine.skipped, mine.market, mine.as_of) == (None, "ID", D)
    listing = (await api.client.get("/v1/segments", headers=owner)).json()["items"]
    sizes = {s["segment_id"]: (s["size"], s["as_of"]) for s in listing}
    assert sizes["followers_not_purchased"] == (1, D.isoformat())


def _redis_store(api: ApiUnderTest) -> RedisCustomerStore:
    """The API's customers port is the Redis store, which customers' projection and
    recompute (driven here as its worker would) write."""
    store = api.runtime.customers
    assert isinstance(store, RedisCustomerStore)
    return store


def _recompute(api: ApiUnderTest) -> Recompute:
    store = _redis_store(api)
    return Recompute(store, store.definitions, api.clock)
