"""Conflicts between systems, pure: which disagreements are open for a dossier at a given time.

A conflict is a disagreement that outlives the sync tolerance of that pair of systems, or a
contradiction that no lag explains (two different terminal outcomes: open at once). The caller
diffs the open set before and after each change, so each conflict is published once when it
opens and once when it resolves.

Time here is capture time (``last_seen_at``, ``first_seen``): when dongbo learned what each system
says. A disagreement lasts from the capture of the later of the two records until a record ending
it is captured; that is what an observer saw live, and what a replay of the same records sees,
whatever order the sources' records are read in (docs/guarantees.md#stream-time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations

from streams.domain.explain import fmt_dt
from streams.model import Status
from streams.state import Conflict, SourceView

MINISTRIES = frozenset({"civil", "land", "business"})
EXITS = frozenset({Status.REJECTED, Status.WITHDRAWN, Status.STOPPED, Status.CANCELLED})
RESULTS = frozenset({Status.RESULT_READY, Status.RETURNED})


def agreement_phase(status: Status, ministry_pair: bool) -> str:
    """What two systems must agree on. Systems differ in detail (the portal has no 'supplement
    received', a ministry system never sees the result handed over at the one-stop desk), so
    statuses are compared by phase, coarser when a ministry system is involved."""
    if status in EXITS:
        return status.value
    if status == Status.RETURNED:
        return "RESULT_READY" if ministry_pair else "RETURNED"
    if status == Status.RESULT_READY:
        return "RESULT_READY"
    if status == Status.SUPPLEMENT_REQUESTED and not ministry_pair:
        return "WAITING_CITIZEN"
    if status in (Status.SUBMITTED, Status.RECEIVED):
        return status.value
    return "PROCESSING"


@dataclass(frozen=True)
class ConflictPolicy:
    """Sync tolerances per pair of systems (a setting), and what must be present where."""

    default_tolerance: timedelta = timedelta(hours=1)
    tolerances: dict[frozenset[str], timedelta] = field(
        default_factory=lambda: {frozenset({"onestop", "portal"}): timedelta(minutes=30)}
    )
    presence_tolerance: timedelta = timedelta(hours=4)
    must_reach: tuple[tuple[str, str], ...] = (("onestop", "portal"),)  # received in A ⇒ present in B
    due_tolerance: timedelta = timedelta(minutes=1)

    def tolerance(self, a: str, b: str) -> timedelta:
        return self.tolerances.get(frozenset({a, b}), self.default_tolerance)


def detect(
    sources: dict[str, SourceView],
    first_seen: dict[str, datetime],
    as_of: datetime,
    policy: ConflictPolicy,
) -> dict[str, Conflict]:
    """Open conflicts at ``as_of``. ``first_seen``: each source's first capture time (presence)."""
    found: dict[str, Conflict] = {}
    for a, b in combinations(sorted(sources), 2):
        va, vb = sources[a], sources[b]
        ministry = a in MINISTRIES or b in MINISTRIES
        since = max(va.last_seen_at, vb.last_seen_at)
        values = {a: va.status.value, b: vb.status.value}
        contradiction = (va.status in EXITS and vb.status in EXITS | RESULTS and va.status != vb.status) or (
            vb.status in EXITS and va.status in EXITS | RESULTS and va.status != vb.status
        )
        if contradiction:
            c = Conflict(
                "terminal_contradiction", (a, b), f"{a} says {va.status}, {b} says {vb.status}", values, since
            )
            found[c.key] = c
        elif agreement_phase(va.status, ministry) != agreement_phase(
            vb.status, ministry
        ) and as_of - since >= policy.tolerance(a, b):
            c = Conflict(
                "status_mismatch", (a, b), f"{a} says {va.status}, {b} says {vb.status}", values, since
            )
            found[c.key] = c
        if va.due_at and vb.due_at and abs(va.due_at - vb.due_at) > policy.due_tolerance:
            dues = {a: va.due_at.isoformat(), b: vb.due_at.isoformat()}
            detail = f"appointment dates differ: {a} {fmt_dt(va.due_at)}, {b} {fmt_dt(vb.due_at)}"
            c = Conflict("due_date_mismatch", (a, b), detail, dues, since)
            found[c.key] = c
    for a, b in policy.must_reach:
        if a in sources and b not in sources:
            since = first_seen[a]
            if as_of - since >= policy.presence_tolerance:
                detail = f"in {a} since {fmt_dt(since)}, absent from {b}"
                c = Conflict("missing_in_system", (a, b), detail, {a: sources[a].status.value}, since)
                found[c.key] = c
    return found


def next_moment(
    sources: dict[str, SourceView],
    first_seen: dict[str, datetime],
    policy: ConflictPolicy,
    after: datetime | None = None,
) -> datetime | None:
    """The next time (after ``after``) a tolerance runs out for a current disagreement (for the
    timer index). Every pair counts: one pair's moment passing must not hide another's."""
    moments = []
    for a, b in combinations(sorted(sources), 2):
        va, vb = sources[a], sources[b]
        ministry = a in MINISTRIES or b in MINISTRIES
        if agreement_phase(va.status, ministry) != agreement_phase(vb.status, ministry):
            moments.append(max(va.last_seen_at, vb.last_seen_at) + policy.tolerance(a, b))
    for a, b in policy.must_reach:
        if a in sources and b not in sources:
            moments.append(first_seen[a] + policy.presence_tolerance)
    if after is not None:
        moments = [m for m in moments if m > after]
    return min(moments) if moments else None
