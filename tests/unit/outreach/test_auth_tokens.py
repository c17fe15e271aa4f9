"""Bearer tokens: what decode_token accepts and why it refuses the rest."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from typer.testing import CliRunner

from services.outreach.api.auth import (
    Account,
    InvalidToken,
    decode_token,
    mint_token,
    verified_account,
)

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
NOW = datetime(2024, 7, 3, 12, 0, tzinfo=UTC)
LATER = int((NOW + timedelta(hours=1)).timestamp())
CLAIMS = {"sub": "acc-1", "seller_id": "seller-1", "role": "sub", "exp": LATER}


def _hs512(claims: dict[str, object]) -> str:
    # Made to be refused: the key's shortness for HS512 is beside the point.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, SECRET, algorithm="HS512")


def test_a_minted_token_names_its_account() -> None:
    token = mint_token(SECRET, "seller-1", "acc-1", "sub", 3600, NOW)

    assert decode_token(SECRET, token, NOW) == Account("acc-1", "seller-1", "sub")
    assert decode_token(SECRET, token, NOW + timedelta(seconds=3599)).role == "sub"


def test_expiry_is_judged_by_the_clock_given() -> None:
    token = mint_token(SECRET, "seller-1", "owner-1", "owner", timedelta(minutes=5), NOW)

    with pytest.raises(InvalidToken, match="expired"):
        decode_token(SECRET, token, NOW + timedelta(minutes=5))


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (jwt.encode(CLAIMS, "another-secret-that-is-long-enough-too", "HS256"), "signature"),
        (jwt.encode(CLAIMS, None, algorithm="none"), "only HS256"),
        (_hs512(CLAIMS), "only HS256"),
        ("not.a.jwt", "malformed"),
        ("", "malformed"),
        (jwt.encode({**CLAIMS, "exp": LATER - 7200}, SECRET, "HS256"), "expired"),
        (jwt.encode({**CLAIMS, "nbf": LATER}, SECRET, "HS256"), "not valid yet"),
        (jwt.encode({**CLAIMS, "exp": "tomorrow"}, SECRET, "HS256"), "exp"),
        (jwt.encode({**CLAIMS, "role": "admin"}, SECRET, "HS256"), "role"),
        (jwt.encode({**CLAIMS, "sub": " acc-1"}, SECRET, "HS256"), "'sub'"),
        (jwt.encode({**CLAIMS, "seller_id": 42}, SECRET, "HS256"), "'seller_id'"),
    ]
    + [
        (
            jwt.encode({k: v for k, v in CLAIMS.items() if k != missing}, SECRET, "HS256"),
            f"'{missing}' is missing",
        )
        for missing in ("sub", "seller_id", "role", "exp")
    ],
)
def test_refused_tokens_say_why(token: str, reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        decode_token(SECRET, token, NOW)


def test_crm_token_prints_a_token_the_api_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    from services.outreach.cli import register
    from services.shared.settings import get_settings

    monkeypatch.setenv("CRM_JWT_SECRET", SECRET)
    get_settings.cache_clear()
    app = typer.Typer()
    register(app)
    try:
        minted = CliRunner().invoke(
            app, ["token", "--seller", "seller-1", "--account", "acc-9", "--role", "sub"]
        )
        refused = CliRunner().invoke(app, ["token", "--seller", "seller-1", "--role", "sub"])
    finally:
        get_settings.cache_clear()

    assert minted.exit_code == 0, minted.output
    account = decode_token(SECRET, minted.stdout.strip(), datetime.now(UTC))
    assert account == Account("acc-9", "seller-1", "sub")
    assert refused.exit_code != 0
    assert "--account" in refused.output


DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"iat": int(NOW.timestamp()), "exp": int((NOW + DAY).timestamp())}, True),
        ({"iat": int(NOW.timestamp()), "exp": int((NOW + DAY).timestamp()) + 1}, False),
        # Issued long ago for a long time: the lifetime counts, not what is left of it.
        ({"iat": int((NOW - 2 * DAY).timestamp()), "exp": int((NOW + DAY / 2).timestamp())}, False),
        # Without iat the lifetime runs from now.
        ({"exp": int((NOW + DAY).timestamp())}, True),
        ({"exp": int((NOW + 3000 * 365 * DAY).timestamp())}, False),
        # An iat in the future does not stretch it.
        (
            {
                "iat": int((NOW + 400 * DAY).timestamp()),
                "exp": int((NOW + 400.5 * DAY).timestamp()),
            },
            False,
        ),
    ],
)
def test_a_token_living_longer_than_the_maximum_is_refused(
    claims: dict[str, int], accepted: bool
) -> None:
    token = jwt.encode({**CLAIMS, **claims}, SECRET, algorithm="HS256")

    if accepted:
        assert decode_token(SECRET, token, NOW, max_lifetime=DAY).account_id == "acc-1"
    else:
        with pytest.raises(InvalidToken, match="lives longer than 86400 s"):
            decode_token(SECRET, token, NOW, max_lifetime=DAY)
    # Without a maximum (the function's default) only expiry counts.
    assert decode_token(SECRET, token, NOW).seller_id == "seller-1"


def test_a_remembered_token_is_still_refused_once_expired() -> None:
    token = mint_token(SECRET, "seller-9", "acc-9", "sub", timedelta(minutes=5), NOW)

    assert verified_account(SECRET, token, NOW) == Account("acc-9", "seller-9", "sub")
    assert verified_account(SECRET, token, NOW + timedelta(minutes=4)).seller_id == "seller-9"
    with pytest.raises(InvalidToken, match="expired"):
        verified_account(SECRET, token, NOW + timedelta(minutes=5))


def test_a_remembered_token_is_checked_again_before_the_time_it_was_remembered() -> None:
    not_before = int((NOW + timedelta(minutes=1)).timestamp())
    token = jwt.encode({**CLAIMS, "nbf": not_before}, SECRET, algorithm="HS256")

    assert verified_account(SECRET, token, NOW + timedelta(minutes=2)).account_id == "acc-1"
    with pytest.raises(InvalidToken, match="not valid yet"):
        verified_account(SECRET, token, NOW)
    # Under another secret or a shorter lifetime limit it is judged afresh.
    with pytest.raises(InvalidToken, match="signature"):
        verified_account("another-secret-that-is-long-enough-for-hs256", token, NOW)
    with pytest.raises(InvalidToken, match="lives longer"):
        verified_account(SECRET, token, NOW + timedelta(minutes=2), timedelta(minutes=1))
