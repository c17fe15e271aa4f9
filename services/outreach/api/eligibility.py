"""Only a seller whose access is `active` may create or submit plans (SPEC section 5):
the others get a 403 `not-eligible` problem before anything is sent to the processor,
while every read (plans and their performance, segments, overview, templates, shop
status, appeals) keeps working for them.

The seller's access is the quota service's projection of crm.seller-status — the same
one the plan processor reads — so the API and the processor judge the same status.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.outreach.api.auth import Account, CustomersAccount
from services.outreach.api.problems import ProblemError
from services.outreach.api.runtime import Runtime, runtime_of
from services.outreach.domain.lifecycle import may_plan

NOT_ELIGIBLE = "urn:crm-broadcast:problem:not-eligible"


async def eligible_account(
    account: CustomersAccount, runtime: Annotated[Runtime, Depends(runtime_of)]
) -> Account:
    status = await runtime.quota.seller_status(account.seller_id)
    access = status.access if status is not None else "not_enrolled"
    if not may_plan(access):
        raise ProblemError(
            403,
            "Not eligible",
            f"the seller's access is {access}: only an active seller may create or submit "
            "plans; existing plans stay viewable and drafts deletable",
            type=NOT_ELIGIBLE,
        )
    return account


EligibleAccount = Annotated[Account, Depends(eligible_account)]
