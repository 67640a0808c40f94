"""The merge rule: ``(state, event) -> state``, pure, deterministic, order-insensitive.

An event is applied once (its deterministic ``event_id``); the state is re-derived from the
event-time-ordered history, so a stale or reordered event never moves a dossier backwards and a
duplicate never counts twice. ``version`` goes up by one for every visible change.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from streams.clockskew import clock_offsets
from streams.conflicts import ConflictPolicy, detect
from streams.discrepancies import (
    DueContext,
    due_discrepancies,
    legal_overdue_at,
    overdue_discrepancies,
)
from streams.domain.catalogue import ProcedureVersion
from streams.domain.policy import ExtensionJudgement
from streams.legal import ALERT_KINDS, Legal, LegalRules, due_alerts, legal_view, same_moment
from streams.model import ENDING, STAGE, Channel, DossierEvent, Status, from_iso
from streams.normalise.attrs import (
    COMPLEX_CASE,
    EXTENSION_NEW_DUE_AT,
    PROCESSING_ENDED_AT,
    RECEIVED_AT,
    SUPPLEMENT_RECEIVED_AT,
    SUPPLEMENT_REQUESTED_AT,
)
from streams.pauses import DEFAULT_PAUSING, derive_pauses
from streams.state import Conflict, Discrepancy, DossierState, HistoryEntry, Pause, SourceView

# Which system is trusted first for a dossier's attributes and, within a stage, its status.
# The city one-stop system is where dossiers are received and processed; the national portal
# mirrors it; ministry systems own their specialised steps. (A setting: see MergePolicy.)
DEFAULT_PRIORITY = ("onestop", "portal", "civil", "land", "business", "import")


@dataclass(frozen=True)
class MergePolicy:
    source_priority: tuple[str, ...] = DEFAULT_PRIORITY
    # stage -> sources whose word wins within that stage, in order (others only when these are silent)
    stage_authority: dict[int, tuple[str, ...]] = field(default_factory=lambda: {2: ("onestop",)})
    conflicts: ConflictPolicy = field(default_factory=ConflictPolicy)
    pausing: frozenset[Status] = DEFAULT_PAUSING  # when there are no legal rules
    rules: LegalRules | None = None  # None: no legal due times (tests of the merge alone)

    def rank(self, source: str) -> int:
        try:
            return self.source_priority.index(source)
        except ValueError:
            return len(self.source_priority)


DEFAULT_POLICY = MergePolicy()


@dataclass(frozen=True)
class MergeResult:
    state: DossierState
    applied: bool  # False: the event had been applied before (duplicate or redelivery)
    changed: bool  # True: the visible state changed and ``version`` went up


def entry_of(event: DossierEvent) -> HistoryEntry:
    return HistoryEntry(
        event_id=event.event_id,
        source=event.source,
        status=event.status,
        occurred_at=event.occurred_at,
        ingested_at=event.ingested_at,
        seq=event.source_seq,
        source_status=event.source_status,
        due_at=event.due_at,
        overdue=event.overdue,
        procedure_code=event.procedure_code,
        unit_code=event.unit_code,
        channel=event.channel,
        extended_due_at=_extension(event),
        complex_case={"true": True, "false": False}.get(event.attributes.get(COMPLEX_CASE, "")),
        stated_received_at=_time_attr(event, RECEIVED_AT),
        stated_pause_start=_time_attr(event, SUPPLEMENT_REQUESTED_AT),
        stated_pause_end=_time_attr(event, SUPPLEMENT_RECEIVED_AT),
        stated_ended_at=_time_attr(event, PROCESSING_ENDED_AT),
    )


def _time_attr(event: DossierEvent, key: str) -> datetime | None:
    text = event.attributes.get(key)
    try:
        return from_iso(text) if text else None
    except ValueError:
        return None


def _extension(event: DossierEvent) -> datetime | None:
    text = event.attributes.get(EXTENSION_NEW_DUE_AT)
    try:
        return from_iso(text) if text else None
    except ValueError:
        return None


def apply_event(
    state: DossierState | None,
    event: DossierEvent,
    now: datetime,
    policy: MergePolicy = DEFAULT_POLICY,
) -> MergeResult:
    base = state if state is not None else DossierState(dossier_id=event.dossier_id)
    if event.dossier_id != base.dossier_id:
        raise ValueError(f"event for {event.dossier_id} applied to state of {base.dossier_id}")
    if any(h.event_id == event.event_id for h in base.history):
        return MergeResult(base, applied=False, changed=False)
    history = list(base.history)
    entry = entry_of(event)
    bisect.insort(history, entry, key=HistoryEntry.order_key)
    return _result(base, derive(base, history, policy, as_of=now), now, applied=True)


def evaluate(state: DossierState, as_of: datetime, policy: MergePolicy = DEFAULT_POLICY) -> MergeResult:
    """Re-evaluate the time-dependent parts (conflict tolerances, ...) at ``as_of``, no new event."""
    return _result(state, derive(state, state.history, policy, as_of=as_of), as_of, applied=False)


def _result(base: DossierState, derived: DossierState, now: datetime, applied: bool) -> MergeResult:
    changed = derived.visible() != base.visible()
    if changed:
        derived = replace(derived, version=base.version + 1, updated_at=now)
    return MergeResult(derived, applied=applied, changed=changed)


def new_alerts(old: DossierState | None, new: DossierState) -> list[str]:
    """Deadline alerts that fired between two states of a dossier."""
    before = set(old.alerts if old else ())
    return [a for a in new.alerts if a not in before]


def conflict_changes(old: DossierState | None, new: DossierState) -> tuple[list[Conflict], list[Conflict]]:
    """(opened, resolved) between two states of a dossier: each conflict is reported once each way."""
    before = {c.key: c for c in (old.conflicts if old else ())}
    after = {c.key: c for c in new.conflicts}
    return [c for k, c in after.items() if k not in before], [c for k, c in before.items() if k not in after]


def _source_order(entries: Sequence[HistoryEntry]) -> list[HistoryEntry]:
    """A source's own order: its sequence numbers when it has them (robust to its clock), else time."""
    if all(e.seq is not None for e in entries):
        return sorted(entries, key=lambda e: (e.seq, e.occurred_at, e.event_id))
    return sorted(entries, key=HistoryEntry.order_key)


def by_source(history: Iterable[HistoryEntry]) -> dict[str, list[HistoryEntry]]:
    """Each source's entries in that source's own order."""
    grouped: dict[str, list[HistoryEntry]] = {}
    for e in history:
        grouped.setdefault(e.source, []).append(e)
    return {source: _source_order(entries) for source, entries in grouped.items()}


def source_views(grouped: dict[str, list[HistoryEntry]]) -> dict[str, SourceView]:
    """Each source's view from its entries in its own order (``by_source``)."""
    views = {}
    for source, entries in grouped.items():
        ordered = entries
        last = ordered[-1]
        due = next((e.due_at for e in reversed(ordered) if e.due_at is not None), None)
        overdue = next((e.overdue for e in reversed(ordered) if e.overdue is not None), None)
        unit = next((e.unit_code for e in reversed(ordered) if e.unit_code), None)
        views[source] = SourceView(
            source=source,
            status=last.status,
            source_status=last.source_status,
            last_occurred_at=last.occurred_at,
            last_seen_at=max(e.ingested_at for e in entries),
            last_seq=last.seq,
            due_at=due,
            overdue=overdue,
            events=len(entries),
            unit_code=unit,
        )
    return views


def unified_status(history: Sequence[HistoryEntry], policy: MergePolicy = DEFAULT_POLICY) -> Status | None:
    """The furthest stage any source has reached; within it, the authoritative source's latest word."""
    if not history:
        return None
    top = max(STAGE[e.status] for e in history)
    candidates = [e for e in history if STAGE[e.status] == top]
    for source in policy.stage_authority.get(top, ()):
        own = [e for e in candidates if e.source == source]
        if own:
            candidates = own
            break
    if top == STAGE[Status.REJECTED]:
        # Terminal exits: the first one ends the dossier (a second, different one is a conflict).
        return min(candidates, key=HistoryEntry.order_key).status
    return max(candidates, key=HistoryEntry.order_key).status


def _first_time(
    history: Sequence[HistoryEntry], statuses: frozenset[Status] | set[Status]
) -> datetime | None:
    times = [e.occurred_at for e in history if e.status in statuses]
    return min(times) if times else None


def _preferred(history: Sequence[HistoryEntry], attr: str, policy: MergePolicy) -> object | None:
    """The value of an attribute from the most trusted source that reports it (its latest report)."""
    best: tuple[int, int] | None = None
    value: object | None = None
    for i, e in enumerate(history):
        v = getattr(e, attr)
        if v is None or v == Channel.UNKNOWN:
            continue
        key = (-policy.rank(e.source), i)
        if best is None or key > best:
            best, value = key, v
    return value


def receipt_time(grouped: dict[str, list[HistoryEntry]], policy: MergePolicy) -> datetime | None:
    """When the dossier was received: each source's first RECEIVED time, and their median.

    A system whose clock is off reports every time shifted; with three or more systems the
    median outvotes it. With two that disagree, nothing says which clock is right: the most
    trusted source's time is kept (the one-stop desk).
    """
    times = sorted(
        (min(e.occurred_at for e in entries if e.status == Status.RECEIVED), policy.rank(source))
        for source, entries in grouped.items()
        if any(e.status == Status.RECEIVED for e in entries)
    )
    if not times:
        return None
    if len(times) >= 3:
        return times[len(times) // 2][0]
    return min(times, key=lambda t: t[1])[0]


def derive(
    base: DossierState,
    history: Sequence[HistoryEntry],
    policy: MergePolicy = DEFAULT_POLICY,
    as_of: datetime | None = None,
) -> DossierState:
    """Everything but bookkeeping, from the history; time-dependent parts as of ``as_of``."""
    history = tuple(sorted(history, key=HistoryEntry.order_key))
    as_of = as_of or (history[-1].occurred_at if history else None)
    grouped = by_source(history)
    # Read a skewed system's times shifted back to the real moments; the stored history stays raw.
    skews = clock_offsets(grouped, policy.source_priority)
    timeline = history
    if skews:
        timeline = tuple(sorted(
            (_shifted(e, skews[e.source]) if e.source in skews else e for e in history),
            key=HistoryEntry.order_key,
        ))  # fmt: skip
        grouped = by_source(timeline)
    sources = source_views(grouped)
    first_seen = {s: min(e.occurred_at for e in entries) for s, entries in grouped.items()}
    conflicts = detect(sources, first_seen, as_of, policy.conflicts) if as_of else {}
    received_at = receipt_time(grouped, policy) or _stated(timeline, "stated_received_at", policy)
    ended_at = _first_time(timeline, ENDING) or _first_time(timeline, {Status.RETURNED})
    stated_end = min((e.stated_ended_at for e in timeline if e.stated_ended_at is not None), default=None)
    if stated_end is not None and (ended_at is None or stated_end < ended_at):
        ended_at = stated_end  # the "result ready" update was lost, a later record states it
    channel_v = _preferred(timeline, "channel", policy)
    channel = channel_v if isinstance(channel_v, Channel) else Channel.UNKNOWN
    procedure_code: str | None = _preferred(timeline, "procedure_code", policy)  # type: ignore[assignment]
    unit_code: str | None = _preferred(timeline, "unit_code", policy)  # type: ignore[assignment]
    submitted_at = _first_time(timeline, {Status.SUBMITTED})
    rules = policy.rules
    version = rules.version(procedure_code, received_at) if rules else None
    pausing = rules.pausing(version) if rules else policy.pausing
    pauses = _with_stated_pauses(derive_pauses(grouped, pausing, policy.source_priority), timeline, pausing)
    extended: datetime | None = _preferred(timeline, "extended_due_at", policy)  # type: ignore[assignment]
    said_complex: bool | None = _preferred(timeline, "complex_case", policy)  # type: ignore[assignment]
    legal_fields: dict[str, object] = {}
    if rules is not None:
        # Each source's computed dates over time: those before the first apology letter (after
        # it, a source shows the letter's date, a decision, on every update).
        letter_at = min((e.occurred_at for e in timeline if e.extended_due_at is not None), default=None)
        reports = {
            name: [
                (e.occurred_at, e.due_at)
                for e in entries
                if e.due_at is not None and (letter_at is None or e.occurred_at < letter_at)
            ]
            for name, entries in grouped.items()
        }
        kw: dict[str, Any] = dict(
            unit_code=unit_code, channel=channel, submitted_at=submitted_at, received_at=received_at,
            ended_at=ended_at, pauses=pauses, extended_due_at=extended, as_of=as_of,
            complex_case=said_complex,
            # The date each system computed last (most trusted first): it shows the limit applied.
            source_dues=tuple(reports[n][-1][1] for n in sorted(reports, key=policy.rank) if reports[n]),
        )  # fmt: skip
        letters = {n: d for n, d in ((n, _last_letter(es)) for n, es in grouped.items()) if d is not None}
        if len(set(letters.values())) > 1:
            # Systems disagree on an apology letter's date: a system that also moved its own
            # appointment dates moved the letter's too. Trust one whose dates before the letter
            # were the legal ones.
            before = legal_view(rules, version, **{**kw, "extended_due_at": None}).due_at
            faithful = [n for n in letters if reports.get(n) and same_moment(reports[n][-1][1], before)]
            if faithful:
                extended = letters[min(faithful, key=policy.rank)]
                kw["extended_due_at"] = extended
        legal = legal_view(rules, version, **kw)

        def explained(view: Legal) -> tuple[Discrepancy, ...]:
            return _discrepancies(rules, version, unit_code, channel, received_at, ended_at, pauses,
                                  view.due_at, extended, sources, view.complex_case, reports)  # fmt: skip

        found = explained(legal)
        if (
            said_complex is None
            and version is not None
            and version.complex_limit is not None
            and not legal.complex_case
        ):
            # No system's date is the ordinary or the complex limit's date, even on a wrong calendar:
            # each is off in more than one way. The reading of the case (complex or not) under which
            # more of the systems' dates are explained by a known cause is the one they worked to.
            unexplained = _unexplained(found)
            if unexplained:
                alt = legal_view(rules, version, **{**kw, "complex_case": True})
                alt_found = explained(alt)
                if _unexplained(alt_found) < unexplained:
                    legal, found = alt, alt_found
        fired = frozenset(base.alerts)
        newly = due_alerts(
            rules, legal, unit_code=unit_code, ended=ended_at is not None, as_of=as_of, fired=fired
        )
        legal_fields = {
            "discrepancies": found + _skew_notes(skews),
            "due_at": legal.due_at,
            "extended_due_at": legal.extended_due_at,
            "outcome": legal.outcome,
            "received_late": legal.received_late,
            "alerts": base.alerts + tuple(k for k in ALERT_KINDS if k in newly),
        }
    return replace(
        base,
        status=unified_status(timeline, policy),
        procedure_code=procedure_code,
        unit_code=unit_code,
        channel=channel,
        submitted_at=submitted_at,
        received_at=received_at,
        ended_at=ended_at,
        last_event_at=history[-1].occurred_at if history else None,
        sources=sources,
        pauses=pauses,
        conflicts=tuple(conflicts[k] for k in sorted(conflicts)),
        evaluated_at=as_of,
        history=history,
        **legal_fields,  # type: ignore[arg-type]
    )


def _discrepancies(
    rules: LegalRules,
    version: ProcedureVersion | None,
    unit_code: str | None,
    channel: Channel,
    received_at: datetime | None,
    ended_at: datetime | None,
    pauses: tuple[Pause, ...],
    legal_due: datetime | None,
    extended: datetime | None,
    sources: dict[str, SourceView],
    complex_case: bool = False,
    reports: dict[str, list[tuple[datetime, datetime]]] | None = None,
) -> tuple[Discrepancy, ...]:
    if version is None or received_at is None or legal_due is None:
        return ()
    ctx = DueContext(
        version, rules.calendar(unit_code), received_at, channel, pauses, rules.policy, complex_case
    )
    # A source showing an apology letter's new date tracks the dossier as the law says (rule 6).
    tracked = extended or legal_due
    dues = due_discrepancies(ctx, sources, tracked, reports, extended)
    judged = (
        extended
        if rules.policy.extension_judged_against is ExtensionJudgement.EXTENDED and extended
        else legal_due
    )
    flags = overdue_discrepancies(
        sources,
        {n: legal_overdue_at(v.last_occurred_at, judged, ended_at, pauses) for n, v in sources.items()},
        {d.source for d in dues if d.reason != "unexplained"},
        {n: v.status in ENDING or v.status == Status.RETURNED for n, v in sources.items()},
    )
    return tuple(dues + flags)


def _skew_notes(skews: dict[str, timedelta]) -> tuple[Discrepancy, ...]:
    """A skewed clock, said once per source: why its times differ from the state's."""
    out = []
    for source, off in sorted(skews.items()):
        minutes = round(off.total_seconds() / 60)
        way = "ahead of" if minutes > 0 else "behind"
        out.append(Discrepancy(
            source=source, field="clock", reason="clock_skew",
            detail=f"the source's clock is {abs(minutes)} min {way} the other systems' for this dossier "
                   f"(its times of the same steps differ by that much); its times are read corrected",
            source_value=f"{minutes:+d} min", legal_value="+0 min",
        ))  # fmt: skip
    return tuple(out)


def _unexplained(found: tuple[Discrepancy, ...]) -> int:
    return sum(1 for d in found if d.field == "due_at" and d.reason == "unexplained")


def _last_letter(entries: Sequence[HistoryEntry]) -> datetime | None:
    return next((e.extended_due_at for e in reversed(entries) if e.extended_due_at is not None), None)


def _shifted(e: HistoryEntry, skew: timedelta) -> HistoryEntry:
    """An entry of a skewed source, every moment it states read on the real clock."""

    def back(t: datetime | None) -> datetime | None:
        return t - skew if t is not None else None

    return replace(
        e, occurred_at=e.occurred_at - skew, stated_received_at=back(e.stated_received_at),
        stated_pause_start=back(e.stated_pause_start), stated_pause_end=back(e.stated_pause_end),
        stated_ended_at=back(e.stated_ended_at),
    )  # fmt: skip


def _stated(timeline: Sequence[HistoryEntry], attr: str, policy: MergePolicy) -> datetime | None:
    """A moment only stated in records (its own update lost everywhere), from the most trusted."""
    found = [(policy.rank(e.source), getattr(e, attr)) for e in timeline if getattr(e, attr) is not None]
    return min(found, key=lambda f: f[0])[1] if found else None


def _with_stated_pauses(
    pauses: list[Pause], timeline: Sequence[HistoryEntry], pausing: frozenset[Status]
) -> tuple[Pause, ...]:
    """Supplement pauses a record states that no status update showed (every system lost it)."""
    if Status.SUPPLEMENT_REQUESTED not in pausing:
        return tuple(pauses)
    out = list(pauses)
    for e in timeline:
        start, end = e.stated_pause_start, e.stated_pause_end
        if start is None:
            continue
        if not any(p.start <= (end or start) and (p.end is None or start <= p.end) for p in out):
            out.append(Pause(start, end, "supplement", e.source))
        elif end is not None:
            # The same pause, open in the status updates, but this record states its end.
            out = [replace(p, end=end) if p.start == start and p.end is None else p for p in out]
    return tuple(sorted(out, key=lambda p: p.start))
