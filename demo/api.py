"""What every `crm demo` chapter that plays a seller needs: the API's client once it
answers, a seller's token, a status published upstream, polling until a state."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.outreach.api.auth import Role, mint_token
from services.shared.codec import encode
from services.shared.kafka import new_producer
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
