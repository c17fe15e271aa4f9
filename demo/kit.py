"""The demo kit: what the chapters of `crm demo` (and the soak's traffic) share. The API's
client once it answers, a seller's token, events published as their upstream owners would,
and waiting until a worker has caught up, a shop is projected or a state is reached."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from schemas.envelope import Event
from schemas.topics import key_of
from services.customers.store import customer_store, customers_redis
from services.outreach.api.auth import Role, mint_token
from services.shared.codec import encode
from services.shared.kafka import new_producer
from services.shared.lag import consumer_lag
from services.shared.settings import Settings


def seller_headers(settings: Settings, seller: str, account: str, role: Role) -> dict[str, str]:
    token = mint_token(
        settings.jwt_secret.get_secret_value(),
        seller_id=seller,
        account_id=account,
        role=role,
        ttl=timedelta(hours=1),
        now=datetime.now(UTC),
    )
    return {"Authorization": f"Bearer {token}"}


async def create_plan(
    http: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> Any:
    response = await http.post("/v1/plans", json=body, headers=headers)
    response.raise_for_status()
    return response.json()


async def publish_status(settings: Settings, status: Any) -> None:
    await publish(settings, "crm.seller-status", status, status.seller_id)


async def publish(settings: Settings, topic: str, event: Any, key: str) -> None:
    """One event on a registry topic, as the upstream system that owns it would send it."""
    producer = new_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(topic), encode(event), key=key.encode())
    finally:
        await producer.stop()


async def publish_events(settings: Settings, events: Iterable[tuple[str, Event]]) -> None:
    """(topic, event) pairs, each keyed as its topic's registry says, all sent before return."""
    producer = new_producer(settings, linger_ms=5)
    await producer.start()
    try:
        sent = []
        for topic, event in events:
            key = key_of(event)
            sent.append(
                await producer.send(
                    settings.topic(topic), encode(event), key=key.encode() if key else None
                )
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def caught_up(settings: Settings, group: str, timeout: float = 30.0) -> bool:
    """Whether consumer group `group` has committed everything on its topics within
    `timeout` seconds: the worker behind it has seen what the chapter published."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await consumer_lag(settings, [group])
        if rows and all(r.lag == 0 for r in rows):
            return True
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.25)


async def until_projected(settings: Settings, seller: str, customers: int) -> None:
    """Until `crm worker customers` has projected at least `customers` of the shop."""
    redis = customers_redis(settings)
    store = customer_store(settings, redis)
    try:
        for _ in range(300):
            if await store.customer_count(seller) >= customers:
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("the customers worker did not project the shop: is it running?")
    finally:
        await redis.aclose()


async def recompute(settings: Settings, seller: str, as_of: date) -> None:
    """The shop's daily segment membership as of `as_of`, now rather than at 00:00."""
    from services.customers.recompute import recompute_seller

    redis = customers_redis(settings)
    try:
        await recompute_seller(settings, redis, seller, as_of)
    finally:
        await redis.aclose()


async def api_answers(http: httpx.AsyncClient) -> bool:
    for _ in range(60):
        try:
            if (await http.get("/readyz")).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.5)
    return False


async def until(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], ok: Any, timeout: float = 15
) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = (await http.get(path, headers=headers)).json()
        if ok(body):
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"{path} never reached the expected state: {body}")
        await asyncio.sleep(0.3)
