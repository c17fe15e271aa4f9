"""The rules every implementation of the customers port follows, as scenarios run against
the in-memory fake (tests/unit/customers) and the Redis store (tests/integration/customers).

Each scenario takes a store and a seller id of its own (the Redis runs share one Redis)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from schemas.segments import SegmentCondition, SegmentDefined, SegmentDeleted
from services.customers.domain.relationship import Relationship, fold
from services.customers.port import Condition, CustomerStore, Profile, cutoff
from tests.unit.customers.builders import followed, ordered, utc

D = date(2024, 7, 3)
AT = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)


def _follower(at: datetime = AT) -> Relationship:
    return fold([followed(at)])


def _buyer(orders: int) -> Relationship:
    return fold([followed(AT), *(ordered(AT, order=f"o{n}") for n in range(orders))])


async def relationships_are_read_back_as_written(store: CustomerStore, seller: str) -> None:
    other = f"{seller}-other"
    written = {"c1": _follower(), "c2": _buyer(1), "c3": _buyer(2)}
    await store.save_relationships({seller: written, other: {"c1": _buyer(3)}})
    # A later write of one customer replaces it; the others stay.
    await store.save_relationships({seller: {"c2": _buyer(2)}})

    loaded = await store.load_relationships(seller, ["c1", "c2", "c3", "nobody"])
    assert loaded == {"c1": written["c1"], "c2": _buyer(2), "c3": written["c3"]}
    assert await store.load_relationships(seller, []) == {}
    assert await store.customer_count(seller) == 3
    assert await store.customer_count(f"{seller}-none") == 0
    paged = [pair async for page in store.relationships(seller, page=2) for pair in page]
    assert sorted(customer for customer, _ in paged) == ["c1", "c2", "c3"]
    assert dict(paged) == {"c1": written["c1"], "c2": _buyer(2), "c3": written["c3"]}
    assert (await store.load_relationships(other, ["c1"]))["c1"] == _buyer(3)


async def profiles_give_messages_a_language_and_a_name(store: CustomerStore, seller: str) -> None:
    anna, thai, bare = f"{seller}-anna", f"{seller}-thai", f"{seller}-bare"
    profiles = {
        anna: Profile(language="en", name="Anna", region="JK", updated_at=AT),
        thai: Profile(language="th", updated_at=AT),
        bare: Profile(updated_at=AT),
    }
    await store.save_profiles(profiles)

    assert await store.profiles([anna, thai, f"{seller}-nobody"]) == {
        anna: profiles[anna],
        thai: profiles[thai],
    }
    assert await store.profiles([]) == {}
    messages = await store.message_profiles([anna, thai, bare, f"{seller}-nobody"])
    assert {c: (p.language, p.name) for c, p in messages.items()} == {
        anna: ("en", "Anna"),
        thai: ("th", None),
        bare: (None, None),
    }
    assert await store.message_profiles([]) == {}


async def markets_are_known_per_seller(store: CustomerStore, seller: str) -> None:
    unknown = f"{seller}-unknown"
    assert await store.market(seller) is None
    await store.set_markets({seller: "TH"})
    await store.set_markets({seller: "ID"})  # the latest report or status names it

    assert await store.market(seller) == "ID"
    assert await store.markets_of([seller, unknown]) == {seller: "ID", unknown: None}
    assert await store.markets_of([]) == {}


async def nothing_is_there_before_the_first_recompute(store: CustomerStore, seller: str) -> None:
    assert await store.latest_as_of(seller) is None
    assert await store.sizes(seller) == (None, {})
    assert await store.high_value_threshold(seller) is None
    assert not await store.has_day(seller, D)
    assert [c async for page in store.members(seller, "new_customers") for c in page] == []


async def a_day_of_memberships_becomes_the_latest_and_never_moves_back(
    store: CustomerStore, seller: str
) -> None:
    before = D - timedelta(days=1)
    sizes = await store.write_memberships(
        seller, D, {"new_customers": ["c1", "c2"], "repeat_customers": []}, 250.0
    )
    assert sizes == {"new_customers": 2, "repeat_customers": 0}
    # A recompute of an earlier day is stored, but readers stay on the later one.
    await store.write_memberships(seller, before, {"new_customers": ["c9"]})

    assert await store.latest_as_of(seller) == D
    assert await store.sizes(seller) == (D, {"new_customers": 2, "repeat_customers": 0})
    assert await store.high_value_threshold(seller) == 250.0
    assert await store.has_day(seller, D)
    assert await store.has_day(seller, before)
    assert not await store.has_day(seller, D + timedelta(days=1))

    async def members(segment: str, as_of: date | None = None) -> set[str]:
        return {c async for page in store.members(seller, segment, as_of) for c in page}

    assert await members("new_customers") == {"c1", "c2"}
    assert await members("new_customers", before) == {"c9"}
    assert await members("repeat_customers") == set()
    assert await members("cart_abandoners") == set()  # not written: no members that day

    # The next day moves readers on.
    after = D + timedelta(days=1)
    await store.write_memberships(seller, after, {"new_customers": ["c3"]})
    assert await store.latest_as_of(seller) == after
    assert await store.sizes(seller) == (after, {"new_customers": 1})
    assert await store.high_value_threshold(seller) is None
    assert await members("new_customers") == {"c3"}


async def members_come_in_pages_in_id_order_without_repeats(
    store: CustomerStore, seller: str
) -> None:
    many = [f"c{n:05d}" for n in range(12_000)]
    # Any id the events accept: commas, quotes, inner line breaks, any script.
    odd = ['c"1', "c,2", "c\n3", "c 4", "ลูกค้า-5", "c\\6"]
    given = [*reversed(many), *odd, *many[:100]]  # out of order, with repeats
    sizes = await store.write_memberships(seller, D, {"followers": given})

    pages = [page async for page in store.members(seller, "followers")]
    seen = [c for page in pages for c in page]
    assert len(pages) > 1
    assert seen == sorted([*many, *odd])
    assert sizes == {"followers": len(many) + len(odd)}


async def a_preview_counts_the_customers_meeting_every_condition(
    store: CustomerStore, seller: str
) -> None:
    await store.save_relationships(
        {seller: {"c1": _follower(), "c2": _buyer(1), "c3": _buyer(2), "c4": fold([])}}
    )
    await store.save_profiles(
        {
            "c2": Profile(region="JK", updated_at=AT),
            "c3": Profile(region="JB", updated_at=AT),
        }
    )
    cut = cutoff(D, "ID")

    async def count(*conditions: Condition) -> int:
        return await store.count_matching(seller, list(conditions), cut)

    follower = Condition(field="is_follower", op="is_true")
    buyer = Condition(field="order_count", op="gte", value=1)
    in_jakarta = Condition(field="region", op="in", value=["JK"])
    assert await count(follower) == 3
    assert await count(follower, buyer) == 2
    assert await count(buyer, in_jakarta) == 1
    assert await count(Condition(field="order_count", op="gte", value=5)) == 0
    assert await store.count_matching(f"{seller}-none", [follower], cut) == 0


def _defined(seller: str, segment: str, name: str, at: datetime) -> SegmentDefined:
    return SegmentDefined(
        event_id=uuid.uuid4(),
        occurred_at=at,
        seller_id=seller,
        segment_id=segment,
        account_id="a1",
        name=name,
        conditions=[SegmentCondition(field="is_follower", op="is_true")],
    )


def _deleted(seller: str, segment: str, at: datetime) -> SegmentDeleted:
    return SegmentDeleted(
        event_id=uuid.uuid4(), occurred_at=at, seller_id=seller, segment_id=segment, account_id="a1"
    )


async def a_segment_definition_is_versioned_by_its_offset(
    store: CustomerStore, seller: str
) -> None:
    first, second = utc("2024-07-01T09:00"), utc("2024-07-02T09:00")
    assert await store.apply_segment_event(_defined(seller, "fans", "Fans", first), 5)
    assert await store.apply_segment_event(_defined(seller, "buyers", "Buyers", second), 6)
    # An earlier record read again (a redelivery) changes nothing.
    assert not await store.apply_segment_event(_defined(seller, "fans", "Old name", first), 4)

    fans = await store.segment(seller, "fans")
    assert fans is not None
    assert (fans.name, fans.defined_at, fans.deleted) == ("Fans", first, False)
    assert [c.field for c in fans.conditions] == ["is_follower"]
    assert [d.segment_id for d in await store.live_segments(seller)] == ["fans", "buyers"]
    assert await store.segment(seller, "nothing") is None
    assert not await store.segment_known(seller, "nothing")

    assert await store.apply_segment_event(_deleted(seller, "fans", second), 7)
    # A redelivered definition never brings a deleted segment back.
    assert not await store.apply_segment_event(_defined(seller, "fans", "Fans", first), 5)
    assert await store.segment(seller, "fans") is None
    assert await store.segment_known(seller, "fans")  # deleted ids are not reused
    assert [d.segment_id for d in await store.live_segments(seller)] == ["buyers"]
    assert await store.live_segments(f"{seller}-none") == []

    # A deletion of a definition never seen still leaves its tombstone.
    assert await store.apply_segment_event(_deleted(seller, "ghost", second), 8)
    assert await store.segment_known(seller, "ghost")
    assert await store.segment(seller, "ghost") is None


SCENARIOS = [
    relationships_are_read_back_as_written,
    profiles_give_messages_a_language_and_a_name,
    markets_are_known_per_seller,
    nothing_is_there_before_the_first_recompute,
    a_day_of_memberships_becomes_the_latest_and_never_moves_back,
    members_come_in_pages_in_id_order_without_repeats,
    a_preview_counts_the_customers_meeting_every_condition,
    a_segment_definition_is_versioned_by_its_offset,
]
