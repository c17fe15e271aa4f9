"""The in-memory fake follows the customers port's rules (the same scenarios run on Redis
in tests/integration/customers/test_store_port.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from services.customers.port import CustomerStore, InMemoryCustomerStore
from tests import customer_store_contract

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("scenario", customer_store_contract.SCENARIOS, ids=lambda s: s.__name__)
async def test_the_fake_follows_the_port_rules(
    scenario: Callable[[CustomerStore, str], Awaitable[None]],
) -> None:
    await scenario(InMemoryCustomerStore(), "s1")
