"""Delivery: fans dispatched plans out to one OutboundMessage per recipient, exactly once,
and keeps each plan's and segment's performance."""
