"""Delivery caps messages with the policy book CRM_POLICY names: a market's override of
the frequency cap is what its sellers' customers get."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from services.policy import DEFAULT_POLICY
from services.shared.settings import Settings
from tests.integration.delivery.support import (
    DELIVERY_TOPICS,
    committed,
    dispatch,
    one_time_plan,
    pairs,
    running_delivery,
    shop,
)

pytestmark = pytest.mark.integration

Topics = Callable[..., Awaitable[list[str]]]


async def test_a_markets_cap_in_the_policy_book_is_the_one_delivery_applies(
    settings: Settings, topics: Topics, tmp_path: Path
) -> None:
    book = tmp_path / "policy.toml"
    book.write_text(DEFAULT_POLICY.read_text() + "\n[markets.TH.frequency_cap]\nmax_messages = 1\n")
    settings = settings.model_copy(update={"policy": book})
    await topics(*DELIVERY_TOPICS)
    async with shop(settings) as seller:
        await seller.activate()  # a TH seller
        await seller.members("followers_not_purchased", ["a", "b"])
        async with running_delivery(settings):
            await dispatch(settings, one_time_plan("p1"), one_time_plan("p2"))
            messages = await committed(settings, "crm.outbound-messages", expected=2)
            progress = await committed(settings, "crm.delivery-progress", expected=2)
    # The default book allows two a week; Thailand's override allows one.
    assert sorted(pairs(messages)) == [("p1", "a"), ("p1", "b")]
    last = {p.plan_id: p for p in progress}
    assert (last["p2"].sent, last["p2"].suppressed) == (0, {"frequency_capped": 2})
