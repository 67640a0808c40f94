"""Which source system's clock is off for a dossier, and by how much. Pure.

Every system stamps the same step of a dossier (received, supplement requested, result ready, …)
with the moment it happened; a system whose clock is off stamps all of them shifted by the same
amount. The shift between two systems is the most common difference between their first stamps
of the same statuses (a lost or reordered update only adds an outlier). That says how far apart
two clocks are, not which one is wrong. What decides it:

- nothing is captured before it happens: a system's record reaches dongbo (``ingested_at``, the
  moment the producer captured it) after the step it reports. A clock that runs ahead shows steps
  that "happened" after dongbo already had them; a correction that makes a capture precede its
  step is impossible. Among the possible readings (one system's clock right, the others read
  against it), the one that leaves the smallest capture delays is kept: a system behind shows
  every capture late by its whole offset. This also finds two clocks late by about the same
  amount, which a vote of clocks would take for the right ones; with one clock off, it is the
  reading in which the others are right.

The merge then reads every time of a skewed source shifted back, so the receipt, the pauses and
the end are the real moments, whichever system's clock is off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from streams.state import HistoryEntry

# Clocks closer than this are the same clock: systems stamp one step a little apart (a sync, a
# desk typing), and that is not a clock to correct.
SAME_CLOCK = timedelta(minutes=2)
# A capture this much before its step is still possible (a producer's own clock, rounding).
CAPTURE_SLACK = timedelta(seconds=5)


def _first_stamps(entries: Sequence[HistoryEntry]) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    for e in entries:
        if e.status not in out or e.occurred_at < out[e.status]:
            out[e.status] = e.occurred_at
    return out


def pair_offset(a: dict[str, datetime], b: dict[str, datetime]) -> timedelta | None:
    """How far a's clock is ahead of b's: the largest group of agreeing differences on shared
    statuses, when it has two or more and is a majority of them; else None (no verdict)."""
    diffs = sorted(a[s] - b[s] for s in a.keys() & b.keys())
    if not diffs:
        return None
    best: list[timedelta] = []
    for i in range(len(diffs)):
        group = [d for d in diffs[i:] if d - diffs[i] < SAME_CLOCK]
        if len(group) > len(best):
            best = group
    if len(best) < 2 or 2 * len(best) <= len(diffs):
        return None  # one shared stamp is too little to judge a clock by; no majority, no verdict
    return best[(len(best) - 1) // 2]  # the middle one (lower middle): an observed difference


def clock_offsets(grouped: dict[str, list[HistoryEntry]], priority: Sequence[str]) -> dict[str, timedelta]:
    """Each source's clock offset (its stamps minus the real time) for this dossier; sources whose
    clock is right, or that cannot be compared with another, are left out."""
    if len(grouped) < 2:
        return {}
    stamps = {s: _first_stamps(entries) for s, entries in grouped.items()}
    rank = {s: (priority.index(s) if s in priority else len(priority)) for s in grouped}
    order = sorted(grouped, key=lambda s: rank[s])
    # Offsets relative to the most trusted source, through the pairs that agree.
    relative: dict[str, timedelta] = {order[0]: timedelta(0)}
    frontier = [order[0]]
    while frontier:
        a = frontier.pop(0)
        for b in order:
            if b in relative:
                continue
            d = pair_offset(stamps[b], stamps[a])
            if d is not None:
                relative[b] = relative[a] + d
                frontier.append(b)
    if len(relative) < 2 or all(abs(d) < SAME_CLOCK for d in relative.values()):
        return {}
    min_lag = {s: min(e.ingested_at - e.occurred_at for e in grouped[s]) for s in relative}

    def reading(c: timedelta) -> tuple[bool, timedelta, int, int]:
        # Offsets if the clocks that sit at ``c`` are right: (possible, delays, clocks right, trust).
        # The smallest delays, not the most clocks: two clocks off by about the same amount agree
        # with each other, and only the capture delays show they are both late.
        offsets = {s: r - c for s, r in relative.items()}
        right = [s for s, o in offsets.items() if abs(o) < SAME_CLOCK]
        possible = all(min_lag[s] + o >= -CAPTURE_SLACK for s, o in offsets.items())
        delays = sum((min_lag[s] + o for s, o in offsets.items()), timedelta(0))
        return possible, -delays, len(right), -min(rank[s] for s in right)

    best = max((relative[s] for s in relative), key=reading)
    return {s: r - best for s, r in relative.items() if abs(r - best) >= SAME_CLOCK}
