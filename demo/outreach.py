"""The outreach chapter of `crm demo`: a seller drives plans through the HTTP API of
`crm api`, which the plan processor (`crm worker outreach`) and the quota service serve."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from demo.kit import (
    api_answers,
    create_plan,
    publish,
    publish_status,
    seller_headers,
    until,
)
from demo.sample_status import sample_status
from schemas.campaigns import CampaignAnnounced
from services.shared.settings import Settings


async def run(settings: Settings, out: Console) -> None:
    run_id = uuid.uuid4().hex[:6]
    seller = f"demo-shop-{run_id}"
    base = f"http://127.0.0.1:{settings.api_port}"
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        if not await api_answers(http):
            out.print(f"[red]the API does not answer on {base}: run `crm dev up` first[/red]")
            return
        owner = seller_headers(settings, seller, f"{seller}-owner", "owner")
        await publish_status(
            settings, sample_status(seller, level=2, weekly_quota=3, occurred_at=datetime.now(UTC))
        )
        shop = await until(http, "/v1/shop/status", owner, lambda b: b["access"] == "active")
        out.print(
            f"seller {seller}: access {shop['access']}, level {shop['level']}, "
            f"weekly quota {shop['weekly_quota']}, left {shop['quota_left']} ({shop['week']})"
        )

        templates = (await http.get("/v1/templates", headers=owner)).json()["items"]
        out.print(
            "templates: "
            + ", ".join(f"{t['template_id']} ({'/'.join(t['languages'])})" for t in templates)
        )

        out.rule("one-time plans at level 2: three units a week")
        # A unit belongs to the week of send_at; twenty minutes ahead keeps the plans in
        # the week /v1/shop/status reports (unless the demo runs just before Monday).
        send_at = (datetime.now(UTC) + timedelta(minutes=20)).isoformat()
        plans = []
        for n in range(4):
            plan = await create_plan(http, owner, _one_time(f"Flash sale {n + 1}", send_at))
            submitted = (
                await http.post(f"/v1/plans/{plan['plan_id']}/submit", headers=owner)
            ).json()
            plans.append(submitted)
            left = (await http.get("/v1/shop/status", headers=owner)).json()["quota_left"]
            reason = f" / {submitted['reason']}" if submitted["reason"] else ""
            out.print(
                f"  submit {submitted['name']}: {submitted['status']}{reason}; quota left {left}"
            )
        cancelled = (
            await http.post(f"/v1/plans/{plans[0]['plan_id']}/cancel", headers=owner)
        ).json()
        left = (await http.get("/v1/shop/status", headers=owner)).json()["quota_left"]
        out.print(
            f"  cancel {cancelled['name']}: {cancelled['status']} ({cancelled['reason']}); "
            f"the unit comes back, quota left {left}"
        )

        out.rule("the status table: a forbidden action is a 409, another shop's plan a 404")
        edit = await http.patch(
            f"/v1/plans/{plans[1]['plan_id']}", json={"name": "x"}, headers=owner
        )
        out.print(f"  PATCH a scheduled plan → {edit.status_code} {edit.json()['detail']}")
        stranger = seller_headers(settings, f"other-{run_id}", f"other-{run_id}-owner", "owner")
        peek = await http.get(f"/v1/plans/{plans[1]['plan_id']}", headers=stranger)
        out.print(f"  another seller reads it → {peek.status_code} {peek.json()['title']}")
        # The stranger was never evaluated: not_enrolled, so it views but may not plan.
        refused = await http.post("/v1/plans", json=_one_time("x", send_at), headers=stranger)
        listed = await http.get("/v1/plans", headers=stranger)
        out.print(
            f"  a not-enrolled seller creates a plan → {refused.status_code} "
            f"{refused.json()['type'].rsplit(':', 1)[-1]}; lists its plans → {listed.status_code}"
        )
        sub = seller_headers(settings, seller, f"{seller}-assistant", "sub")
        before = (await http.get("/v1/plans", headers=sub)).status_code
        await http.put(
            f"/v1/accounts/{seller}-assistant/permissions",
            json={"permissions": ["customers"]},
            headers=owner,
        )
        after = (await http.get("/v1/plans", headers=sub)).status_code
        out.print(
            f"  sub-account without `customers` → {before}; after the owner grants it → {after}"
        )

        out.rule("automated, send-now and due plans")
        auto = await create_plan(http, owner, _automated())
        auto = (await http.post(f"/v1/plans/{auto['plan_id']}/submit", headers=owner)).json()
        out.print(f"  automated cart_abandoned plan: {auto['status']} (uses no quota)")
        sale = _campaign(f"demo-sale-{run_id}")
        await publish(settings, "crm.campaigns", sale, sale.campaign_id)
        await until(
            http,
            "/v1/campaigns",
            owner,
            lambda b: any(c["campaign_id"] == sale.campaign_id for c in b["items"]),
        )
        out.print(
            f"  the marketplace announces campaign {sale.campaign_id} on crm.campaigns "
            f"({', '.join(sale.markets)}, {sale.plans_per_seller} plan per seller)"
        )
        soon = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()
        campaign_plans = []
        for name, campaign_id in (
            ("Campaign in 4 s", sale.campaign_id),
            ("Second campaign plan", sale.campaign_id),
            ("Made-up campaign", f"no-such-sale-{run_id}"),
        ):
            body = {**_one_time(name, soon), "type": "campaign", "campaign_id": campaign_id}
            plan = await create_plan(http, owner, body)
            plan = (await http.post(f"/v1/plans/{plan['plan_id']}/submit", headers=owner)).json()
            reason = f" / {plan['reason']}" if plan["reason"] else ""
            out.print(f"  submit {name}: {plan['status']}{reason}")
            campaign_plans.append(plan)
        camp = campaign_plans[0]
        left = (await http.get("/v1/shop/status", headers=owner)).json()["quota_left"]
        out.print(
            f"  campaign plans use the campaign's limit, not the weekly quota (left {left}); "
            f"at {soon[11:19]}Z the first … waiting for the scheduler"
        )
        due = await until(
            http,
            f"/v1/plans/{camp['plan_id']}",
            owner,
            # Delivery may already have fanned it out (this shop has no members yet).
            lambda b: b["status"] in ("sending", "completed"),
            timeout=30,
        )
        out.print(
            f"  → dispatched at {due['dispatched_at'][11:19]}Z (once), now {due['status']}"
            f" ({due['sent'] or 0} sent: the shop has no customers yet)"
        )

        # While the seller is active: a suspended seller may not create plans.
        await _limits_chapter(out, http, owner, send_at)

        out.rule("suspension: scheduled and ongoing plans are cancelled, planning refused (403)")
        late = await create_plan(http, owner, _one_time("Drafted before suspension", send_at))
        await publish_status(
            settings,
            sample_status(
                seller,
                access="suspended",
                level=None,
                weekly_quota=0,
                occurred_at=datetime.now(UTC),
            ),
        )
        await until(
            http,
            f"/v1/plans/{auto['plan_id']}",
            owner,
            lambda b: b["status"] == "cancelled",
            timeout=30,
        )
        await until(http, "/v1/shop/status", owner, lambda b: b["access"] == "suspended")
        submit = await http.post(f"/v1/plans/{late['plan_id']}/submit", headers=owner)
        create = await http.post("/v1/plans", json=_one_time("New", send_at), headers=owner)
        out.print(
            f"  submit the draft → {submit.status_code}, create a plan → {create.status_code} "
            f"({create.json()['type'].rsplit(':', 1)[-1]}); every view still answers 200"
        )
        listing = (await http.get("/v1/plans", headers=owner)).json()["items"]
        out.print(_plans_table(listing))


async def _limits_chapter(
    out: Console, http: httpx.AsyncClient, owner: dict[str, str], send_at: str
) -> None:
    out.rule("limits: If-Match, forbidden characters, paged lists")
    draft = await create_plan(http, owner, _one_time("Draft", send_at))
    path = f"/v1/plans/{draft['plan_id']}"
    first = await http.patch(path, json={"name": "Edited"}, headers={**owner, "If-Match": '"1"'})
    stale = await http.patch(path, json={"name": "Lost"}, headers={**owner, "If-Match": '"1"'})
    out.print(
        f'  PATCH If-Match "1": {first.status_code} (ETag {first.headers["ETag"]}); '
        f'again with "1": {stale.status_code}'
    )
    bad = await http.post("/v1/plans", json=_one_time("Sale\x1b[31m", send_at), headers=owner)
    out.print(f"  a name with ESC: {bad.status_code} {bad.json()['errors'][0]}")
    page = (await http.get("/v1/plans", params={"limit": 2}, headers=owner)).json()
    cursor = page["next_cursor"]
    shown = f"{cursor[:16]}… (opaque)" if cursor else "null (the last page)"
    out.print(f"  GET /v1/plans?limit=2: {len(page['items'])} plans, next_cursor {shown}")


def _one_time(name: str, send_at: str) -> dict[str, Any]:
    return {
        "type": "one_time",
        "name": name,
        "segment_id": "repeat_customers",
        "content": {
            "template_id": "flash_sale",
            "default_language": "th",
            "product_ids": ["p-1", "p-2"],
            "button": {"type": "product_list"},
        },
        "send_at": send_at,
    }


def _campaign(campaign_id: str) -> CampaignAnnounced:
    now = datetime.now(UTC)
    return CampaignAnnounced(
        event_id=uuid.uuid4(),
        occurred_at=now,
        campaign_id=campaign_id,
        name="Demo mega sale",
        markets=["TH", "ID"],
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(days=1),
        plans_per_seller=1,
    )


def _automated() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "type": "automated",
        "name": "Cart reminder",
        "segment_id": "cart_abandoners",
        "content": {"default_language": "en", "texts": {"en": "Still thinking, {customer_name}?"}},
        "trigger": {"type": "cart_abandoned", "after_hours": 24},
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=14)).isoformat(),
    }


def _plans_table(plans: list[dict[str, Any]]) -> Table:
    table = Table("plan", "type", "status", "reason", "send at")
    for p in plans:
        table.add_row(
            p["name"], p["type"], p["status"], p["reason"] or "", (p["send_at"] or "")[:16]
        )
    return table
