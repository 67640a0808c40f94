"""Clock pauses (docs/domain-rules.md §5) derived from a dossier's history, pure.

A pause starts when a source records a waiting status (supplement requested; financial obligation
where the procedure says so) and ends at that source's next status that is not waiting. Sources
do not always record pauses (a known way they disagree): the pauses are taken from the most
trusted source among those that recorded the most pause episodes, so one system forgetting a
pause does not erase it, and lagging copies of the same pause are not counted twice. Each pause
ends at the first end any system shows for it (a lost "supplement received" does not stretch it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from streams.model import Status
from streams.state import HistoryEntry, Pause

DEFAULT_PAUSING = frozenset({Status.SUPPLEMENT_REQUESTED})
REASONS = {
    Status.SUPPLEMENT_REQUESTED: "supplement",
    Status.FINANCIAL_OBLIGATION: "financial_obligation",
    Status.SUSPENDED: "suspended",
}


def pauses_of_source(entries: Sequence[HistoryEntry], pausing: frozenset[Status]) -> list[Pause]:
    """Pause episodes in one source's own order of events."""
    out: list[Pause] = []
    open_start: HistoryEntry | None = None
    for e in entries:
        if open_start is not None and e.status != open_start.status:
            # A source whose numbering contradicts its clock shows a pause ending before it
            # starts: its length is unknowable, so it is not counted (rather than stop the clock
            # backwards, which the deadline arithmetic rightly refuses).
            if e.occurred_at >= open_start.occurred_at:
                reason = REASONS.get(open_start.status, "pause")
                out.append(Pause(open_start.occurred_at, e.occurred_at, reason, e.source))
            open_start = None
        if open_start is None and e.status in pausing:
            open_start = e
    if open_start is not None:
        out.append(
            Pause(open_start.occurred_at, None, REASONS.get(open_start.status, "pause"), open_start.source)
        )
    return out


def derive_pauses(
    by_source: Mapping[str, Sequence[HistoryEntry]],
    pausing: Iterable[Status] = DEFAULT_PAUSING,
    priority: Sequence[str] = (),
) -> list[Pause]:
    """``by_source``: each source's entries in that source's own order."""
    stops = frozenset(pausing)
    best: tuple[int, int] | None = None
    chosen: list[Pause] = []
    for source, entries in by_source.items():
        episodes = pauses_of_source(entries, stops)
        rank = priority.index(source) if source in priority else len(priority)
        key = (len(episodes), -rank)
        if episodes and (best is None or key > best):
            best, chosen = key, episodes
    others = [p for source, entries in by_source.items() for p in pauses_of_source(entries, stops)]
    return [_earliest_end(p, others) for p in chosen]


def _earliest_end(pause: Pause, others: list[Pause]) -> Pause:
    """A pause ends when the first system saw the dossier move on: a system that lost the
    "supplement received" update only ends its pause at its next update, which is too late."""
    ends = [
        o.end for o in others
        if o.end is not None and o.end > pause.start and (pause.end is None or o.start < pause.end)
    ]  # fmt: skip
    if not ends or (pause.end is not None and pause.end <= min(ends)):
        return pause
    return Pause(pause.start, min(ends), pause.reason, pause.source)
