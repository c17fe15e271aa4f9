"""The plan processor's handlers table: every plan command has its handler."""

from __future__ import annotations

from typing import Any, get_args

from schemas.plans import CreatePlan
from services.outreach.handlers import Handlers, PlanCommand


def test_every_command_but_create_has_a_handler_for_the_plan_it_names() -> None:
    unused: Any = None  # the table is built without touching the ports
    handlers = Handlers(quota=unused, campaigns=unused, live_segments=unused)
    # CreatePlan is the one command that needs no plan yet: handled before the table.
    assert set(handlers._on_plan) == set(get_args(PlanCommand)) - {CreatePlan}
