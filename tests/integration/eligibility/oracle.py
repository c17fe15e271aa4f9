"""An independent, deliberately plain model of SPEC sections 3 and 4 for checking the
worker: dictionaries and loops, no code shared with services/eligibility."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

ZONES = {"TH": "Asia/Bangkok", "US": "America/Los_Angeles"}
QUOTA = {1: 1, 2: 3, 3: 5, 4: 7, 5: 10}


@dataclass(frozen=True)
class Expected:
    access: str
    eligible: bool
    level: int | None
    weekly_quota: int


def window(month: str) -> tuple[date, date]:
    y, m = map(int, month.split("-"))

    def shift(k: int) -> date:
        i = y * 12 + m - 1 - k
        return date(i // 12, i % 12 + 1, 22)

    return shift(2), shift(1)


def local_day(at: datetime, market: str) -> date:
    return at.astimezone(ZoneInfo(ZONES[market])).date()


def eligible(reports: dict[date, dict], month: str) -> bool:
    start, end = window(month)
    days = sorted(d for d in reports if start <= d < end)
    if not days:
        return False
    received = sum(reports[d]["chats_received"] for d in days)
    responded = sum(reports[d]["chats_responded_12h"] for d in days)
    if received and responded / received < 0.85:
        return False
    ses = [reports[d]["ses"] for d in days if reports[d]["ses"] is not None]
    if not ses or ses[-1] < 3.5:
        return False
    return reports[days[-1]]["violation_points"] < 12


def level(delivered: int, read: int, blocked: int, previous: int) -> int:
    if delivered < 100:
        return previous
    r, b = read / delivered, blocked / delivered
    if b >= 0.03 or r < 0.10:
        return 1
    if r >= 0.40 and b < 0.005:
        return 5
    if r >= 0.30 and b < 0.010:
        return 4
    if r >= 0.20 and b < 0.015:
        return 3
    return 2


def engagement(events: list[dict], market: str, month: str) -> tuple[int, int, int]:
    start, end = window(month)
    found: dict[str, set[str]] = {"delivered": set(), "read": set(), "blocked": set()}
    for e in events:
        kind, field = {
            "MessageDelivered": ("delivered", "delivered_at"),
            "MessageRead": ("read", "read_at"),
            "ShopBlocked": ("blocked", "occurred_at"),
        }[e["event_type"]]
        if start <= local_day(datetime.fromisoformat(e[field]), market) < end:
            found[kind].add(e["message_id"])
    return len(found["delivered"]), len(found["read"]), len(found["blocked"])


def settle(metrics_events: list[dict]) -> dict[date, dict]:
    """The report of each day after corrections: latest occurred_at, then event_id."""
    best: dict[date, dict] = {}
    for e in metrics_events:
        d = date.fromisoformat(e["metrics_date"])
        rank = (datetime.fromisoformat(e["occurred_at"]), e["event_id"])
        if d not in best or rank > best[d]["_rank"]:
            best[d] = {**e, "_rank": rank}
    return best


def decide_months(
    market: str, metrics_events: list[dict], engagement_events: list[dict], months: list[str]
) -> dict[str, Expected]:
    reports = settle(metrics_events)
    access, last_level = "not_enrolled", None
    out: dict[str, Expected] = {}
    for month in months:
        if eligible(reports, month):
            if access == "active":
                lvl = level(*engagement(engagement_events, market, month), last_level or 2)
            else:
                lvl = 2
            access, last_level = "active", lvl
            out[month] = Expected("active", True, lvl, QUOTA[lvl])
        else:
            access = "suspended" if access == "active" else "not_enrolled"
            out[month] = Expected(access, False, None, 0)
    return out
