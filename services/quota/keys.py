"""The quota service's Redis key layout.

Every key of one seller carries the hash tag {seller_id}, so a script touches
keys of one cluster slot and runs unchanged on Redis Cluster. The generation
marker that says "this slot's data is whole" is one key per slot: Redis loses
data by node, and a node holds whole slots. Its hash tag is chosen to land on
the slot it marks, so the scripts read it beside the seller's own keys.

The prefix follows CRM_TOPIC_PREFIX, so tests, benchmarks and parallel demos
sharing one Redis never see each other's keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from services.quota.domain.counters import is_campaign_label
from services.shared.settings import Settings


@cache
def _slot_tags() -> tuple[str, ...]:
    """For each cluster slot, a short hash tag that maps to it (built once, ~0.2 s)."""
    tags: dict[int, str] = {}
    n = 0
    while len(tags) < REDIS_CLUSTER_HASH_SLOTS:
        tags.setdefault(key_slot(f"s{n}".encode()), f"s{n}")
        n += 1
    return tuple(tags[slot] for slot in range(REDIS_CLUSTER_HASH_SLOTS))


@dataclass(frozen=True)
class QuotaKeys:
    prefix: str

    def seller(self, seller_id: str) -> str:
        """Hash: the status projection (status JSON, market, limit, access, level…)."""
        return f"{self.prefix}:{{{seller_id}}}:seller"

    def week(self, seller_id: str, week: str) -> str:
        """Hash: `used` and `plan:<plan_id>` -> reserved | dispatched | released."""
        return f"{self.prefix}:{{{seller_id}}}:week:{week}"

    def counter(self, seller_id: str, label: str) -> str:
        """The hash of a counter (domain/counters.py): a week's, or for a label
        'campaign:<id>' the seller's units of that campaign (same fields)."""
        if is_campaign_label(label):
            return f"{self.prefix}:{{{seller_id}}}:{label}"
        return self.week(seller_id, label)

    def pending(self, seller_id: str) -> str:
        """Hash: ledger facts taken in Redis and not yet acknowledged by Kafka."""
        return f"{self.prefix}:{{{seller_id}}}:pending"

    def cap_period(self, seller_id: str, period: int) -> str:
        """Hash: the frequency cap's decisions of one period (`CAP_PERIOD` long, counted
        from the epoch), customer -> their decisions asked in it (scripts/may_send_many.lua)."""
        return f"{self.prefix}:{{{seller_id}}}:caps:{period}"

    def restored(self, seller_id: str) -> str:
        """String: the generation marker of the seller's slot (absent: data lost)."""
        return self.slot_restored(key_slot(self.seller(seller_id).encode()))

    def slot_restored(self, slot: int) -> str:
        return f"{self.prefix}:{{{_slot_tags()[slot]}}}:restored"

    def slot_restoring(self, slot: int) -> str:
        """String: set while a rebuild restores the slot; promoted to its marker at the end."""
        return f"{self.prefix}:{{{_slot_tags()[slot]}}}:restoring"

    @property
    def last_rebuild(self) -> str:
        """String: the report of the last rebuild (JSON); never read by a script."""
        return f"{self.prefix}:last-rebuild"

    @property
    def rebuild_lock(self) -> str:
        return f"{self.prefix}:rebuild-lock"

    @property
    def all_pending(self) -> str:
        return self.pending("*")

    def seller_of_pending(self, key: str) -> str:
        """The seller id inside a `pending` key found by SCAN."""
        return key[len(self.prefix) + 2 : -len("}:pending")]


SLOTS = range(REDIS_CLUSTER_HASH_SLOTS)


def quota_keys(settings: Settings) -> QuotaKeys:
    return QuotaKeys(f"{settings.topic_prefix}quota")


def build_slot_tags() -> None:
    """Build the slot tags now, at a process's start: built on first use, they held
    the event loop ~150 ms in the middle of the first submit, and every request behind it
    waited (the first ~30 answers of a 200/s load, 1.5 % of a 10 s bench)."""
    _slot_tags()
