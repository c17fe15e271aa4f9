"""The topic reader moved to services/shared/replay.py (outreach's campaign calendar
rebuilds with it too); kept here so existing imports keep working."""

from services.shared.replay import Progress, replay

__all__ = ["Progress", "replay"]
