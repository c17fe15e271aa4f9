"""/v1/plans: plan management through the plan processor (being built)."""

from fastapi import APIRouter

router = APIRouter(tags=["plans"])
