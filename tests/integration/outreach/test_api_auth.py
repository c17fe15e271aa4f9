"""Tokens the API refuses: each answers 401 problem+json with a Bearer challenge."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from services.outreach.api.auth import mint_token
from tests.integration.outreach.conftest import ApiUnderTest
from tests.integration.outreach.support import assert_problem


def _refused_tokens(api: ApiUnderTest, seller: str) -> dict[str, dict[str, str]]:
    secret = api.settings.jwt_secret.get_secret_value()
    now = api.clock()
    expired = mint_token(secret, seller, seller, "owner", 60, now - timedelta(hours=1))
    exp = int((now + timedelta(hours=1)).timestamp())
    claims = {"sub": seller, "seller_id": seller, "role": "owner", "exp": exp}

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    return {
        "missing": {},
        "not bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
        "malformed": bearer("not-a-jwt"),
        "forged": bearer(jwt.encode(claims, "another-secret-of-at-least-32-bytes!", "HS256")),
        "alg none": bearer(jwt.encode(claims, None, algorithm="none")),
        "wrong alg": bearer(jwt.encode(claims, secret, algorithm="HS512")),
        "expired": bearer(expired),
        "no seller_id": bearer(
            jwt.encode({k: v for k, v in claims.items() if k != "seller_id"}, secret, "HS256")
        ),
        "unknown role": bearer(jwt.encode({**claims, "role": "admin"}, secret, "HS256")),
    }


# The HS512 token is made to be refused; its short key is the point, not a risk.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_missing_forged_expired_and_malformed_tokens_get_401(
    api: ApiUnderTest, test_id: str
) -> None:
    seller = f"seller-{test_id}"
    for case, headers in _refused_tokens(api, seller).items():
        for path in ("/v1/shop/status", "/v1/templates", "/v1/appeals"):
            response = await api.client.get(path, headers=headers)
            body = assert_problem(response, 401)
            challenge = response.headers.get("www-authenticate", "")
            assert challenge.startswith("Bearer"), (case, path, challenge)
            assert body["title"] == "Unauthorized", (case, body)


async def test_a_valid_token_passes(api: ApiUnderTest, test_id: str) -> None:
    seller = f"seller-{test_id}"
    response = await api.client.get("/v1/shop/status", headers=api.auth(seller))
    assert response.status_code == 200, response.text
    assert response.json()["seller_id"] == seller
