"""The due-time index: when each dossier next needs a look although no event arrives.

Absence is an event: a record read ahead becoming visible, a disagreement outliving its
tolerance, a deadline to judge. Each worker keeps an in-memory heap of (moment, dossier) per
partition it owns; when the partition's stream time passes moments (``streams.engine``), they
are popped in order and each dossier is evaluated at its own moment. The heap is rebuilt from the
table after every rebalance (each stored state carries its next moment).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime

from streams.conflicts import next_moment
from streams.legal import Legal, next_moments
from streams.merge_policy import MergePolicy
from streams.state import DossierState


def state_next_moment(state: DossierState, policy: MergePolicy) -> datetime | None:
    """The next time (capture time, the clock's) this dossier's state could change with no new
    event: a record already read becomes visible, a tolerance runs out, a deadline is judged."""
    after = state.evaluated_at
    first_seen: dict[str, datetime] = {}  # each source's first capture among the visible records
    pending: datetime | None = None  # the next record to become visible
    for e in state.history:
        at = e.ingested_at
        if after is not None and at > after:
            pending = at if pending is None or at < pending else pending
        elif e.source not in first_seen or at < first_seen[e.source]:
            first_seen[e.source] = at
    moments = [m for m in [next_moment(state.sources, first_seen, policy.conflicts, after)] if m is not None]
    if pending is not None:
        moments.append(pending)
    if policy.rules is not None:
        stopped = any(p.end is None for p in state.pauses)
        legal = Legal(
            due_at=state.due_at, extended_due_at=state.extended_due_at, outcome=state.outcome,
            clock_stopped=stopped,
        )  # fmt: skip
        legal_moments = next_moments(
            policy.rules, legal, unit_code=state.unit_code, channel=state.channel,
            submitted_at=state.submitted_at, received_at=state.received_at,
            ended=state.ended_at is not None, fired=frozenset(state.alerts),
        )  # fmt: skip
        moments += [m + policy.alert_grace for m in legal_moments]  # judged a sync delay later
    if state.evaluated_at is not None:
        moments = [m for m in moments if m > state.evaluated_at]
    return min(moments) if moments else None


@dataclass
class TimerIndex:
    _heap: list[tuple[float, bytes]] = field(default_factory=list)
    _due: dict[bytes, float] = field(default_factory=dict)

    def schedule(self, key: bytes, moment: datetime | None) -> None:
        """Set (or clear, with None) the next moment of a dossier; the last call wins."""
        if moment is None:
            self._due.pop(key, None)
            return
        ts = moment.timestamp()
        if self._due.get(key) == ts:
            return
        self._due[key] = ts
        heapq.heappush(self._heap, (ts, key))

    def schedule_by(self, key: bytes, moment: datetime) -> None:
        """The dossier needs a look at ``moment`` at the latest (a record kept for later): its
        next moment is the earlier of the two, with nothing else recomputed."""
        ts = self._due.get(key)
        if ts is None or moment.timestamp() < ts:
            self.schedule(key, moment)

    def pop_next(self, now: datetime) -> tuple[bytes, datetime] | None:
        """The earliest dossier whose moment is at or before ``now``, with that moment (stream
        time visits moments one by one, in order, each at its own time)."""
        if not self.has_due(now):
            return None
        ts, key = heapq.heappop(self._heap)  # has_due left a live entry on top
        del self._due[key]
        return key, datetime.fromtimestamp(ts, tz=now.tzinfo)

    def pop_key(self, key: bytes, now: datetime) -> datetime | None:
        """This dossier's moment when it is at or before ``now``, taken off the index (its heap
        entry goes stale and is skipped); None when it has none that has come."""
        ts = self._due.get(key)
        if ts is None or ts > now.timestamp():
            return None
        del self._due[key]
        return datetime.fromtimestamp(ts, tz=now.tzinfo)

    def has_due(self, now: datetime) -> bool:
        """Whether some dossier's moment is at or before ``now`` (stale heap entries dropped)."""
        now_ts = now.timestamp()
        while self._heap and self._heap[0][0] <= now_ts:
            ts, key = self._heap[0]
            if self._due.get(key) == ts:
                return True
            heapq.heappop(self._heap)
        return False

    def clear(self) -> None:
        self._heap.clear()
        self._due.clear()

    def __len__(self) -> int:
        return len(self._due)
