"""Time lag from offset lag, as kafka-lag-exporter estimates it: each poll adds the
partition's latest offset and the time it was seen to a small table; the time at
which the group's committed offset was produced is read off that table by linear
interpolation (or, below the table, extrapolation), and the lag is now minus that.

Pure: the caller passes the samples and `now`; no Kafka, no clock here.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import pairwise

# kafka-lag-exporter's default lookup-table-size.
TABLE_SIZE = 60


@dataclass(frozen=True)
class Sample:
    offset: int  # the partition's end offset (the next offset to be written)
    at: float  # seconds since the epoch when that end offset was first seen


@dataclass
class LookupTable:
    """The recent (end offset, first seen) points of one partition."""

    size: int = TABLE_SIZE
    samples: deque[Sample] = field(default_factory=deque)

    def add(self, offset: int, at: float) -> None:
        # Only a new offset is a new point: the first time an offset was seen is the best
        # bound on when its records were written (a quiet topic must not look younger).
        if self.samples and offset <= self.samples[-1].offset:
            if offset < self.samples[-1].offset:  # the topic was recreated: start again
                self.samples.clear()
            else:
                return
        self.samples.append(Sample(offset, at))
        while len(self.samples) > self.size:
            self.samples.popleft()


def lag_seconds(samples: list[Sample] | deque[Sample], committed: int, now: float) -> float:
    """Estimated seconds since the record at `committed` (the group's next record) was
    written; 0 when the group has read everything the table has seen."""
    points = list(samples)
    if not points or committed >= points[-1].offset:
        return 0.0
    produced = _produced_at(points, committed)
    return max(0.0, now - produced)


def _produced_at(points: list[Sample], offset: int) -> float:
    for before, after in pairwise(points):
        if before.offset <= offset < after.offset:
            return _line(before, after, offset)
    # Below the table (the group is older than its oldest point): extrapolate on the
    # first and last points; with one point, or a flat line, the first point's time is
    # a lower bound of the lag.
    first, last = points[0], points[-1]
    if last.offset > first.offset:
        return min(first.at, _line(first, last, offset))
    return first.at


def _line(a: Sample, b: Sample, offset: int) -> float:
    return a.at + (offset - a.offset) * (b.at - a.at) / (b.offset - a.offset)
