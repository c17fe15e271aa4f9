"""PUT /v1/accounts/{account_id}/permissions: the owner grants or revokes `customers`
(the account's whole set; [] revokes). GET shows an account's set."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from schemas.seller import Permission
from schemas.types import IDENTIFIER_MAX_LENGTH
from services.outreach.api.auth import CurrentAccount, OwnerAccount
from services.outreach.api.patterns import TRIMMED
from services.outreach.api.problems import FieldError, ProblemError, problem_responses
from services.outreach.api.runtime import Runtime, runtime_of
from services.outreach.permissions import ACCOUNTS_TOPIC, PERMISSIONS, set_permissions

router = APIRouter(tags=["accounts"], responses=problem_responses(401, 403, 422))

# An id the events accept (schemas.types.Identifier).
AccountId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=IDENTIFIER_MAX_LENGTH,
        pattern=TRIMMED,
        description="A sub-account of the caller's shop.",
    ),
]


class PermissionsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    permissions: list[Permission] = Field(
        max_length=len(PERMISSIONS), description="The account's whole set; [] revokes all."
    )


class AccountPermissions(BaseModel):
    seller_id: str
    account_id: str
    permissions: list[Permission]


@router.put("/v1/accounts/{account_id}/permissions", response_model=AccountPermissions)
async def put_permissions(
    account_id: AccountId,
    request: PermissionsRequest,
    owner: OwnerAccount,
    runtime: Annotated[Runtime, Depends(runtime_of)],
) -> AccountPermissions:
    """Set a sub-account's permissions (owner only). The answer, and every request after
    it, already reflects the change."""
    if account_id == owner.account_id:
        raise ProblemError(
            422,
            "Unprocessable Content",
            "the owner holds every permission; name a sub-account",
            errors=[FieldError(field="path.account_id", message="is the owner's own account")],
        )
    held = await set_permissions(
        runtime.permissions,
        lambda event: runtime.publish(ACCOUNTS_TOPIC, event, key=event.seller_id),
        seller_id=owner.seller_id,
        account_id=account_id,
        wanted=request.permissions,
        now=runtime.clock(),
    )
    return AccountPermissions(seller_id=owner.seller_id, account_id=account_id, permissions=held)


@router.get("/v1/accounts/{account_id}/permissions", response_model=AccountPermissions)
async def get_permissions(
    account_id: AccountId,
    account: CurrentAccount,
    runtime: Annotated[Runtime, Depends(runtime_of)],
) -> AccountPermissions:
    """An account's permissions: the owner may read any of its shop's accounts, a
    sub-account its own."""
    if not account.is_owner and account_id != account.account_id:
        raise ProblemError(403, "Forbidden", "a sub-account may read only its own permissions")
    held = (
        list(PERMISSIONS)
        if account.is_owner and account_id == account.account_id
        else await runtime.permissions.permissions(account.seller_id, account_id)
    )
    return AccountPermissions(seller_id=account.seller_id, account_id=account_id, permissions=held)
