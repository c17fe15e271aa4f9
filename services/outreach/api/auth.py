"""Bearer tokens of the seller API: HS256 JWTs with `sub` (account id), `seller_id`,
`role` (owner | sub) and `exp` (SPEC section 7).

Expiry is checked against the runtime's clock rather than PyJWT's own reading of the
system time, so tests (and replays) decide with the time they are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import TypeAdapter, ValidationError

from schemas.types import Identifier
from services.outreach.api.problems import ProblemError
from services.outreach.api.runtime import Runtime, runtime_of

ALGORITHM = "HS256"
Role = Literal["owner", "sub"]
ROLES: tuple[Role, ...] = ("owner", "sub")
REQUIRED_CLAIMS = ("sub", "seller_id", "role", "exp")

_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


@dataclass(frozen=True)
class Account:
    """Who is calling: an account of one seller, its owner or a sub-account."""

    account_id: str
    seller_id: str
    role: Role

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


class InvalidToken(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def mint_token(
    secret: str,
    seller_id: str,
    account_id: str,
    role: str,
    ttl: timedelta | int,
    now: datetime,
) -> str:
    """A token for `account_id` of `seller_id`, valid from `now` for `ttl` (seconds)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    lifetime = ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)
    claims = {
        "sub": account_id,
        "seller_id": seller_id,
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _identifier(claims: dict[str, Any], name: str) -> str:
    try:
        return _IDENTIFIER.validate_python(claims[name], strict=True)
    except ValidationError:
        raise InvalidToken(f"claim {name!r} is not a valid identifier") from None


def _instant(claims: dict[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"claim {name!r} must be a number of seconds since the epoch")
    return float(value)


def decode_token(
    secret: str, token: str, now: datetime, max_lifetime: timedelta | None = None
) -> Account:
    """The account a token names, or InvalidToken saying why it is refused.

    With `max_lifetime`, a token issued for longer (exp - iat, or exp - now without
    iat) is refused: a leaked token must not stay good for years."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            # Only HS256: "none" and every other algorithm are refused by the library.
            algorithms=[ALGORITHM],
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"claim {exc.claim!r} is missing") from None
    except jwt.InvalidAlgorithmError:
        raise InvalidToken(f"only {ALGORITHM} tokens are accepted") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("the signature does not match") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"malformed token: {exc}") from None
    if now.timestamp() >= _instant(claims, "exp"):
        raise InvalidToken("the token has expired")
    if max_lifetime is not None:
        # An iat in the future does not stretch it: the lifetime runs from now at least.
        issued = (
            min(_instant(claims, "iat"), now.timestamp()) if "iat" in claims else now.timestamp()
        )
        if _instant(claims, "exp") - issued > max_lifetime.total_seconds():
            raise InvalidToken(
                f"the token lives longer than {int(max_lifetime.total_seconds())} s (exp - iat)"
            )
    if "nbf" in claims and now.timestamp() < _instant(claims, "nbf"):
        raise InvalidToken("the token is not valid yet")
    role = claims["role"]
    if role not in ROLES:
        raise InvalidToken(f"claim 'role' must be one of {', '.join(ROLES)}")
    return Account(
        account_id=_identifier(claims, "sub"),
        seller_id=_identifier(claims, "seller_id"),
        role=role,
    )


@dataclass(frozen=True)
class _Verified:
    account: Account
    exp: float
    checked_at: float


# Tokens whose signature and claims were checked, by (secret, token, max lifetime): a
# seller's client sends the same token with every request, and HMAC plus claim parsing is
# a sizeable share of a request's CPU. A cached token is good from the time it was
# checked until its exp: every other check (nbf, lifetime) only gets easier as time
# passes. Bounded: emptied when full.
_VERIFIED: dict[tuple[str, str, float | None], _Verified] = {}
_VERIFIED_MAX = 10_000


def verified_account(
    secret: str, token: str, now: datetime, max_lifetime: timedelta | None = None
) -> Account:
    """`decode_token`, remembering the tokens it accepted."""
    key = (secret, token, max_lifetime.total_seconds() if max_lifetime is not None else None)
    at = now.timestamp()
    known = _VERIFIED.get(key)
    if known is not None and known.checked_at <= at < known.exp:
        return known.account
    account = decode_token(secret, token, now, max_lifetime)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    exp = _instant(jwt.decode(token, options={"verify_signature": False}), "exp")
    _VERIFIED[key] = _Verified(account, exp, at)
    return account


BEARER = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    scheme_name="bearerAuth",
    description="HS256 JWT with claims sub (account id), seller_id, role (owner|sub), exp.",
)


def _unauthorized(detail: str, *, token_given: bool) -> ProblemError:
    # RFC 6750: a request without credentials gets the bare challenge.
    challenge = 'Bearer error="invalid_token"' if token_given else "Bearer"
    return ProblemError(401, "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


async def current_account(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
    runtime: Annotated[Runtime, Depends(runtime_of)],
) -> Account:
    if credentials is None:
        raise _unauthorized("a bearer token is required", token_given=False)
    secret = runtime.settings.jwt_secret.get_secret_value()
    try:
        max_lifetime = timedelta(seconds=runtime.limits.max_token_lifetime_seconds)
        return verified_account(secret, credentials.credentials, runtime.clock(), max_lifetime)
    except InvalidToken as exc:
        raise _unauthorized(exc.reason, token_given=True) from None


async def customers_account(
    account: Annotated[Account, Depends(current_account)],
    runtime: Annotated[Runtime, Depends(runtime_of)],
) -> Account:
    """The caller, when it may use the Customers module: the owner always, a sub-account
    only while it holds the `customers` permission (SPEC section 5)."""
    if account.is_owner or await runtime.permissions.holds(
        account.seller_id, account.account_id, "customers"
    ):
        return account
    raise ProblemError(403, "Forbidden", "this sub-account does not hold the customers permission")


async def owner_account(account: Annotated[Account, Depends(current_account)]) -> Account:
    if not account.is_owner:
        raise ProblemError(403, "Forbidden", "only the shop owner may do this")
    return account


CurrentAccount = Annotated[Account, Depends(current_account)]
CustomersAccount = Annotated[Account, Depends(customers_account)]
OwnerAccount = Annotated[Account, Depends(owner_account)]
