"""Which source system's clock is off for a dossier, and by how much. Pure.

Every system stamps the same step of a dossier (received, supplement requested, result ready, …)
with the moment it happened; a system whose clock is off stamps all of them shifted by the same
amount. The shift between two systems is the most common difference between their first stamps
of the same statuses (a lost or reordered update only adds an outlier). That says how far apart
two stamps are, not that a clock is wrong, nor which one. What decides it:

- **the receiving desk is the authority.** The system where the dossier was received (the first of
  the merge's source priority: the one-stop system) keeps its stamps unless the evidence against
  its clock is strong; with nothing to tell, its moments are the receipt and the due time's start.
- **a sync lag is not a clock error.** The receiving side of a sync (the portal, which writes a
  synced copy of each one-stop step: ``ConflictPolicy.must_reach``) stamps the copy when it writes
  it, a steady few minutes after the step. Stamps later than the step by less than the pair's sync
  tolerance are that sync, not skew, as long as nothing was captured before the copy was written.
  Stamps earlier than the step, or later by more than any sync, are a clock.
- **nothing is captured before it happens**: a record reaches dongbo (``ingested_at``, the moment
  the producer captured it) after the step it reports. A reading that makes a capture precede its
  step is impossible: that is how a clock ahead shows, the receiving desk's included.
- **captures late by a whole shift show which clock is behind, when they say anything.** A reading
  that moves the desk's stamps (or leaves another system's stamps "ahead" by more than a sync)
  replaces the desk-right one only if some system's captures back it: on that reading they follow
  their steps by less than a quarter of the shift (a live desk captures within seconds), on the
  desk-right one every one of them would be late by at least the whole shift. Captures that carry
  no information (a file import: one capture time for all records, or captures long after the
  steps) never decide. Among readings with the same evidence, the fewest clocks off, then the most
  trusted clock right, then the smallest capture delays (two clocks late by the same amount agree
  with each other; only their captures show that both are late).
- **a clock seen through a lagging mirror.** Measured against the portal's stamps, the desk's shift
  includes the sync; at that shift its captures would precede its steps. The desk's fastest capture
  is then taken as the moment of its step (a live desk captures within seconds) and the rest of the
  shift is the sync: off by those seconds, not by the whole shift, and not blamed on the portal.

The merge then reads every time of a skewed source shifted back, so the receipt, the pauses and
the end are the real moments, whichever system's clock is off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from streams.conflicts import ConflictPolicy
from streams.state import HistoryEntry

# Clocks closer than this are the same clock: systems stamp one step a little apart (a sync, a
# desk typing), and that is not a clock to correct.
SAME_CLOCK = timedelta(minutes=2)
# A capture this much before its step is still possible (a producer's own clock, rounding).
CAPTURE_SLACK = timedelta(seconds=5)
# Captures back a reading when, read with it, they follow their steps by less than this share of
# the shift it makes (and, read with the desk's clock, every one would be late by all of it): a
# live desk captures within seconds, the portal within minutes, an import days later.
CAPTURE_SHARE = 4
# Which system syncs into which, and the sync tolerance of each pair (a setting of the merge).
DEFAULT_CONFLICTS = ConflictPolicy()


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


def clock_offsets(
    grouped: dict[str, list[HistoryEntry]],
    priority: Sequence[str],
    conflicts: ConflictPolicy = DEFAULT_CONFLICTS,
) -> dict[str, timedelta]:
    """Each source's clock offset (its stamps minus the real time) for this dossier; sources whose
    clock is right, that lag as the receiving side of a sync, or that cannot be compared with
    another, are left out. ``conflicts`` names the syncs (``must_reach``) and their tolerances."""
    if len(grouped) < 2:
        return {}
    stamps = {s: _first_stamps(entries) for s, entries in grouped.items()}
    rank = {s: (priority.index(s) if s in priority else len(priority)) for s in grouped}
    order = sorted(grouped, key=lambda s: rank[s])
    origin = order[0]  # where the dossier was received: the authority for its moments
    # Offsets relative to the most trusted source, through the pairs that agree.
    relative: dict[str, timedelta] = {origin: timedelta(0)}
    frontier = [origin]
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
    # A system's captures say something only when they are not one moment (a file import).
    informative = {s for s in relative if len({e.ingested_at for e in grouped[s]}) > 1}
    synced_from = {b: a for a, b in conflicts.must_reach if a in relative and b in relative}

    def synced(s: str, o: timedelta) -> bool:
        # Stamps later than the real step by less than the sync tolerance, every capture after the
        # stamp: the synced copy written a little later, not a clock.
        a = synced_from.get(s)
        return a is not None and timedelta(0) < o < conflicts.tolerance(a, s) and min_lag[s] >= -CAPTURE_SLACK

    def shifts(c: timedelta) -> dict[str, timedelta]:
        """Each system's offset if the clocks that sit at ``c`` are right (a sync: none)."""
        return {s: (timedelta(0) if synced(s, r - c) else r - c) for s, r in relative.items()}

    desk_right = shifts(timedelta(0))
    # The readings: each clock right in turn, at a shift observed between stamps.
    observed = set(relative.values())
    readings = set(observed)
    # A desk clock measured through a mirror that syncs minutes late is off by the measured shift
    # less the sync: read at the observed shift, its captures would precede its steps. Read with
    # its fastest capture taken as the moment of its step (a live desk captures within seconds),
    # the rest of the shift is the sync.
    anchor = min_lag[origin]
    if (
        origin in informative
        and abs(anchor) >= SAME_CLOCK
        and max(observed) - anchor > CAPTURE_SLACK
        and all(
            s == origin or abs(r - anchor) < SAME_CLOCK or synced(s, r - anchor) for s, r in relative.items()
        )
    ):
        readings.add(anchor)

    def evidence(c: timedelta) -> tuple[timedelta, bool, int, int, bool, timedelta]:
        """How a reading stands, larger is better: (-how far a capture precedes its step, captures
        back it against the desk-right reading, -clocks off, trust of the best clock right, read at
        an observed shift, -capture delays)."""
        shift = shifts(c)
        skewed = [s for s, o in shift.items() if abs(o) >= SAME_CLOCK]
        delay = {s: min_lag[s] + o for s, o in shift.items()}
        early = max(-d for d in delay.values()) - CAPTURE_SLACK
        backed = any(
            s in informative
            and desk_right[s] - shift[s] >= SAME_CLOCK
            and CAPTURE_SHARE * delay[s] <= desk_right[s] - shift[s]
            for s in shift
        )
        right = [rank[s] for s in relative if s not in skewed]
        return (
            -max(early, timedelta(0)),
            backed,
            -len(skewed),
            -min(right, default=len(priority) + 1),
            c in observed,
            -sum(delay.values(), timedelta(0)),
        )

    best = max(sorted(readings), key=evidence)
    return {s: o for s, o in shifts(best).items() if abs(o) >= SAME_CLOCK}
