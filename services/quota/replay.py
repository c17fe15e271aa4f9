"""`crm replay`, quota part: rebuild the counters from crm.quota-ledger and the statuses
from crm.seller-status (reservations wait meanwhile), then refold the frequency cap's
sent history from crm.outbound-messages (services/quota/cap_history.py)."""

from __future__ import annotations

from services.quota.adapter import open_quota
from services.quota.cap_history import rebuild_cap_history
from services.shared.clock import utc_now
from services.shared.replay import Progress
from services.shared.settings import Settings


async def rebuild_quota(settings: Settings, progress: Progress | None = None) -> dict[str, object]:
    """The rebuild's report, then the events folded into the sent history."""
    async with open_quota(settings) as port:
        report = await port.rebuilder.rebuild(progress)
    rows: dict[str, object] = dict(vars(report))
    rows["frequency-cap events folded"] = await rebuild_cap_history(settings, utc_now, progress)
    return rows
