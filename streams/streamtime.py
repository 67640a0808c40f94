"""A partition's stream time: how far every source's records on it have been read.

Each source captures its records in order and the normaliser keeps that order on the dossier's
partition, so once a record captured at ``t`` has been read from a source, nothing that source
captured before ``t`` is still to come. The partition's time is the minimum over the sources
seen on it of the latest capture time read: every record captured by then, from every source,
has been read. It starts once every expected source (a setting) has been read on the partition.
An explicit watermark (the end of a replay, or a live worker that has caught up with every
input) lifts it further. It never goes back: a source first seen late cannot pull it
down (its earlier records, read after the time passed them, are late; docs/guarantees.md).

Plain data with a JSON form: the time is kept in the dossier table under a key of the partition,
so a restarted worker resumes from it and never evaluates a dossier at an earlier moment again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from streams.model import from_iso

META_PREFIX = b"\x00"  # dossier ids never start with NUL: the table's own bookkeeping keys do


@dataclass
class PartitionClock:
    sources: dict[str, datetime] = field(default_factory=dict)  # latest capture time read, per source
    floor: datetime | None = None  # the latest explicit watermark
    now: datetime | None = None  # the partition's time: never goes back
    # Sources the time waits for before it starts (a setting, not stored): a source first read
    # after the time had moved would find it past its early records.
    expected: tuple[str, ...] = ()

    def saw(self, source: str, captured_at: datetime) -> bool:
        """A record of ``source`` captured at ``captured_at`` was read. True: the clock changed."""
        seen = self.sources.get(source)
        if seen is not None and captured_at <= seen:
            return False
        self.sources[source] = captured_at
        self._settle()
        return True

    def lift(self, until: datetime) -> bool:
        """Every input is known to be complete up to ``until``. True: the time moved."""
        if self.floor is None or until > self.floor:
            self.floor = until
        return self._settle()

    def _settle(self) -> bool:
        complete = all(s in self.sources for s in self.expected)
        slowest = min(self.sources.values(), default=None) if complete else None
        candidates = [t for t in (slowest, self.floor) if t is not None]
        if not candidates:
            return False
        moved = max(candidates)
        if self.now is None or moved > self.now:
            self.now = moved
            return True
        return False

    def dumps(self) -> bytes:
        return json.dumps(
            {
                "sources": {s: t.isoformat() for s, t in sorted(self.sources.items())},
                "floor": self.floor.isoformat() if self.floor else None,
                "now": self.now.isoformat() if self.now else None,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def loads(cls, raw: bytes) -> PartitionClock:
        doc = json.loads(raw)
        sources = {s: t for s, t in ((s, from_iso(v)) for s, v in doc.get("sources", {}).items()) if t}
        return cls(sources=sources, floor=from_iso(doc.get("floor")), now=from_iso(doc.get("now")))


def is_meta(key: bytes) -> bool:
    return key.startswith(META_PREFIX)


def clock_key(partition: int, partition_of: Callable[[bytes], int]) -> bytes:
    """A table key that lands on ``partition`` (the table is partitioned like the events), so the
    clock travels with the partition's states through the changelog, recovery and rebalances."""
    for salt in range(1_000_000):
        key = META_PREFIX + b"clock:%d:%d" % (partition, salt)
        if partition_of(key) == partition:
            return key
    raise ValueError(f"no clock key found for partition {partition}")  # not with a sane partitioner
