"""The owner grants and revokes `customers`; a sub-account without it gets 403 on the
Customers endpoints, and sees a change on its very next request."""

from __future__ import annotations

from schemas.seller import PermissionGranted, PermissionRevoked
from services.shared.codec import decode
from tests.integration.kafka_io import read_records
from tests.integration.outreach.conftest import ApiUnderTest
from tests.integration.outreach.support import assert_problem


async def test_customers_permission_is_granted_and_revoked_by_the_owner(
    api: ApiUnderTest, test_id: str
) -> None:
    seller, sub = f"seller-{test_id}", f"helper-{test_id}"
    owner_auth = api.auth(seller)
    sub_auth = api.auth(seller, sub, role="sub")
    path = f"/v1/accounts/{sub}/permissions"

    assert_problem(await api.client.get("/v1/templates", headers=sub_auth), 403)

    granted = await api.client.put(path, json={"permissions": ["customers"]}, headers=owner_auth)
    assert granted.status_code == 200, granted.text
    assert granted.json() == {"seller_id": seller, "account_id": sub, "permissions": ["customers"]}
    allowed = await api.client.get("/v1/templates", headers=sub_auth)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["items"], "the catalogue is listed"
    shown = await api.client.get(path, headers=sub_auth)
    assert shown.json()["permissions"] == ["customers"]

    revoked = await api.client.put(path, json={"permissions": []}, headers=owner_auth)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["permissions"] == []
    assert_problem(await api.client.get("/v1/templates", headers=sub_auth), 403)

    records = await read_records(api.settings, "crm.seller-accounts", count=2)
    events = [decode("crm.seller-accounts", r.value) for r in records]
    assert [type(e) for e in events] == [PermissionGranted, PermissionRevoked]
    assert all(e.seller_id == seller and e.account_id == sub for e in events)  # type: ignore[attr-defined]
    assert {r.key for r in records} == {seller.encode()}


async def test_the_owner_always_passes_and_other_sellers_are_unaffected(
    api: ApiUnderTest, test_id: str
) -> None:
    seller, other, sub = f"seller-{test_id}", f"other-{test_id}", f"helper-{test_id}"
    assert (await api.client.get("/v1/templates", headers=api.auth(seller))).status_code == 200
    put = await api.client.put(
        f"/v1/accounts/{sub}/permissions",
        json={"permissions": ["customers"]},
        headers=api.auth(other),
    )
    assert put.status_code == 200, put.text
    # The same account id under another shop holds nothing here.
    assert_problem(
        await api.client.get("/v1/templates", headers=api.auth(seller, sub, role="sub")), 403
    )


async def test_a_sub_account_cannot_set_permissions(api: ApiUnderTest, test_id: str) -> None:
    seller, sub = f"seller-{test_id}", f"helper-{test_id}"
    response = await api.client.put(
        f"/v1/accounts/{sub}/permissions",
        json={"permissions": ["customers"]},
        headers=api.auth(seller, sub, role="sub"),
    )
    assert_problem(response, 403)
    other_sub = await api.client.get(
        f"/v1/accounts/another-{test_id}/permissions", headers=api.auth(seller, sub, role="sub")
    )
    assert_problem(other_sub, 403)


async def test_the_owner_cannot_name_its_own_account(api: ApiUnderTest, test_id: str) -> None:
    seller = f"seller-{test_id}"
    response = await api.client.put(
        f"/v1/accounts/{seller}/permissions",
        json={"permissions": ["customers"]},
        headers=api.auth(seller, seller),
    )
    body = assert_problem(response, 422)
    assert body["errors"] == [{"field": "path.account_id", "message": "is the owner's own account"}]
