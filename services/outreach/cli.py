"""`crm api` (serve the seller API) and `crm token` (mint a development token)."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from services.shared.clock import utc_now
from services.shared.settings import get_settings


def register(app: typer.Typer) -> None:
    app.command("api")(api)
    app.command("token")(token)


def api(
    host: Annotated[
        str, typer.Option(help="interface to bind; 0.0.0.0 exposes the API beyond this host")
    ] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="default: CRM_API_PORT (8080)")] = None,
) -> None:
    """Serve the seller API (OpenAPI at /openapi.json) until Ctrl-C or SIGTERM."""
    import uvicorn

    from services.outreach.api.app import served_app
    from services.shared.logs import configure_logging

    settings = get_settings()
    configure_logging("api", settings.log_level, settings.log_format)
    # uvicorn stops gracefully on SIGTERM/SIGINT, then raises the same signal again
    # under the handlers it found; with these, that second delivery ends nothing and
    # a requested stop exits 0, as the workers do.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    # Logging is structlog's (configured above); request figures are in /metrics.
    uvicorn.run(
        served_app(settings),
        host=host,
        port=settings.api_port if port is None else port,
        log_config=None,
        access_log=False,
    )


def token(
    seller: Annotated[str, typer.Option(help="the seller (shop) id")],
    account: Annotated[
        str | None, typer.Option(help="account id (sub claim); an owner defaults to the seller id")
    ] = None,
    role: Annotated[str, typer.Option(help="owner or sub")] = "owner",
    ttl: Annotated[int, typer.Option(help="seconds until it expires")] = 3600,
) -> None:
    """Print a bearer token signed with CRM_JWT_SECRET, for development and tests."""
    from services.outreach.api.auth import ROLES, mint_token

    if role not in ROLES:
        raise typer.BadParameter(f"must be one of {', '.join(ROLES)}", param_hint="--role")
    if account is None and role == "sub":
        raise typer.BadParameter("a sub-account token needs --account", param_hint="--account")
    if ttl <= 0:
        raise typer.BadParameter("must be positive", param_hint="--ttl")
    secret = get_settings().jwt_secret.get_secret_value()
    # The command line is the edge where the wall clock is read.
    now = utc_now()
    typer.echo(mint_token(secret, seller, account or seller, role, ttl, now))
