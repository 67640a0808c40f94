"""What a dossier's history says, computed once per derive: the first step of the merge pipeline.

Facts are read from the event history, every source side by side: each source's view, the
receipt, the end, the pauses, the channel, unit and procedure (from the most trusted source that
says them), an apology letter's date, the complex-case decision when a source states it, and the
dates each system computed over time. A skewed source clock is corrected here, once, so every
later step sees the real moments. No legal rule runs here (``streams.derive`` applies them).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from streams.clockskew import clock_offsets
from streams.domain.catalogue import ProcedureVersion
from streams.merge_policy import DEFAULT_POLICY, MergePolicy
from streams.model import ENDING, STAGE, VN_TZ, Channel, Status
from streams.pauses import derive_pauses
from streams.state import HistoryEntry, Pause, SourceView

# Each system's computed due dates over time: (when it said it, the date).
Reports = dict[str, list[tuple[datetime, datetime]]]
_V = TypeVar("_V")
# Where an entry stands in the event-time order (``HistoryEntry.order_key``).
OrderKey = tuple[datetime, int, str]
# Each preferred value: (the rank of the source, the order key of the entry, the value).
Ranked = dict[Any, tuple[int, OrderKey, Any]]


@dataclass(frozen=True)
class DossierFacts:
    history: tuple[HistoryEntry, ...]  # as stored (raw clocks), event-time order
    timeline: tuple[HistoryEntry, ...]  # skewed clocks read corrected, event-time order
    grouped: dict[str, list[HistoryEntry]]  # the timeline by source, each in its own order
    skews: dict[str, timedelta]  # sources whose clock is off, by how much
    sources: dict[str, SourceView]
    first_seen: dict[str, datetime]  # each source's first capture time (presence)
    status: Status | None
    procedure_code: str | None
    unit_code: str | None
    channel: Channel
    submitted_at: datetime | None
    received_at: datetime | None
    ended_at: datetime | None
    version: ProcedureVersion | None  # the catalogue version in force at the receipt
    pauses: tuple[Pause, ...]
    letters: dict[str, datetime]  # each system's latest apology-letter date
    letter_at: datetime | None  # when the first apology letter was recorded
    extended_due_at: datetime | None  # the most trusted source's letter date
    said_complex: bool | None  # a source states the complex-case decision (None: none says)
    reports: Reports  # dates each system computed before the first apology letter
    attributes: dict[str, str]  # the indicators' attributes, each from the most trusted system
    # Each preferred value with the rank of the source and the place of the entry it came from
    # (``_preferred_values``): what another entry's values are weighed against (``gather_after``).
    preferred: Ranked


def gather(history: Iterable[HistoryEntry], policy: MergePolicy) -> DossierFacts:
    ordered = tuple(sorted(history, key=HistoryEntry.order_key))
    grouped = by_source(ordered)
    # Read a skewed system's times shifted back to the real moments; the stored history stays raw.
    skews = clock_offsets(grouped, policy.source_priority, policy.conflicts)
    timeline = ordered
    if skews:
        timeline = tuple(sorted(
            (_shifted(e, skews[e.source]) if e.source in skews else e for e in ordered),
            key=HistoryEntry.order_key,
        ))  # fmt: skip
        grouped = by_source(timeline)
    received_at = receipt_time(grouped, policy) or _stated(timeline, policy)
    ended_at = _ended(timeline)
    ranked = _preferred_values(timeline, policy)
    preferred = {name: held[2] for name, held in ranked.items()}
    channel = preferred.get("channel")
    procedure_code = preferred.get("procedure_code")
    rules = policy.rules
    version = rules.version(procedure_code, received_at) if rules else None
    pausing = rules.pausing(version) if rules else policy.pausing
    pauses = _with_stated_pauses(derive_pauses(grouped, pausing, policy.source_priority), timeline, pausing)
    letter_at = _first_letter(timeline)
    reports = _reports(grouped, letter_at)
    letters = {n: d for n, d in ((n, _last_letter(es)) for n, es in grouped.items()) if d is not None}
    return DossierFacts(
        history=ordered,
        timeline=timeline,
        grouped=grouped,
        skews=skews,
        sources=source_views(grouped),
        first_seen={s: min(e.ingested_at for e in entries) for s, entries in grouped.items()},
        status=unified_status(timeline, policy),
        procedure_code=procedure_code,
        unit_code=_unit(preferred.get("unit_code"), timeline, received_at, policy),
        channel=channel if channel is not None else Channel.UNKNOWN,
        submitted_at=_first_time(timeline, {Status.SUBMITTED}),
        received_at=received_at,
        ended_at=ended_at,
        version=version,
        pauses=pauses,
        letters=letters,
        letter_at=letter_at,
        extended_due_at=preferred.get("extended_due_at"),
        said_complex=preferred.get("complex_case"),
        reports=reports,
        attributes=_attributes(preferred),
        preferred=ranked,
    )


def gather_after(prev: DossierFacts, e: HistoryEntry, policy: MergePolicy) -> DossierFacts | None:
    """``gather((*prev.history, e), policy)`` computed from ``prev`` (the facts ``gather`` or this
    gave for that history under ``policy``) when ``e`` is the last of its source's own order (the
    common case, late against other sources included): only what ``e`` can change is computed
    again, each piece by the function ``gather`` uses.

    None when that does not hold or a clock is skewed (a skew reads every time shifted): the
    caller gathers the whole history. A property test holds the two equal on any history.
    """
    if prev.skews or not prev.history:
        return None
    own = prev.grouped.get(e.source, [])
    if own:
        # e must come last in the source's own order, and keep that order's kind (``_source_order``).
        last = own[-1]
        if all(x.seq is not None for x in own):
            if e.seq is None or _seq_key(e) <= _seq_key(last):
                return None
        elif e.order_key() <= last.order_key():
            return None
    history = list(prev.history)
    bisect.insort(history, e, key=HistoryEntry.order_key)
    ordered = tuple(history)
    entries = [*own, e]
    grouped = {**prev.grouped, e.source: entries}
    # Per-source facts are kept in the order sources first appear in the timeline (``by_source``),
    # which later steps iterate in: an entry that comes in before its source's others, and before
    # another source's, moves its source up.
    reorder = ordered[-1] is not e and (not own or e.order_key() < min(x.order_key() for x in own))
    if reorder:
        grouped = _in_order(grouped, ordered)
    if clock_offsets(grouped, policy.source_priority, policy.conflicts):
        return None
    received_at = prev.received_at
    if e.status == Status.RECEIVED or e.stated_received_at is not None:
        received_at = receipt_time(grouped, policy) or _stated(ordered, policy)
    ended_at = prev.ended_at
    if e.status in ENDING or e.status == Status.RETURNED or e.stated_ended_at is not None:
        ended_at = _ended(ordered)
    ranked = dict(prev.preferred)
    _offer_values(ranked, e, policy.rank(e.source))
    preferred = {name: held[2] for name, held in ranked.items()}
    procedure_code = preferred.get("procedure_code")
    version = prev.version
    rules = policy.rules
    if rules is not None and (procedure_code != prev.procedure_code or received_at != prev.received_at):
        version = rules.version(procedure_code, received_at)
    pausing = rules.pausing(version) if rules else policy.pausing
    pauses = prev.pauses
    if (
        version != prev.version
        or e.status in pausing
        or (own and own[-1].status in pausing)  # e may end the source's open pause
        or e.stated_pause_start is not None
    ):
        found = derive_pauses(grouped, pausing, policy.source_priority)
        pauses = _with_stated_pauses(found, ordered, pausing)
    # Moments that are a minimum over the timeline are taken again by the same pass when e can
    # be one: of equal instants the first in the timeline wins, and its UTC offset is the one shown.
    letter_at = prev.letter_at if e.extended_due_at is None else _first_letter(ordered)
    reports = prev.reports
    if letter_at != prev.letter_at:
        reports = _reports(grouped, letter_at)  # an earlier first letter: later dates drop out
    elif e.due_at is not None and (letter_at is None or e.occurred_at < letter_at):
        reports = {**reports, e.source: [*reports.get(e.source, ()), (e.occurred_at, e.due_at)]}
    elif e.source not in reports:
        reports = {**reports, e.source: []}
    letters = prev.letters
    if e.extended_due_at is not None:
        letters = {
            n: d for n in grouped
            if (d := e.extended_due_at if n == e.source else prev.letters.get(n)) is not None
        }  # fmt: skip
    sources = {**prev.sources, **source_views({e.source: entries})}
    first = prev.first_seen.get(e.source)
    first_seen = {**prev.first_seen, e.source: e.ingested_at if first is None else min(first, e.ingested_at)}
    if reorder:
        reports, sources, first_seen = (_in_order(d, ordered) for d in (reports, sources, first_seen))
        letters = _in_order(letters, ordered)  # (only the sources that sent one)
    top = STAGE[prev.status] if prev.status is not None else -1
    stage = STAGE[e.status]
    status = prev.status if stage < top else e.status if stage > top else unified_status(ordered, policy)
    unit = preferred.get("unit_code")
    unit_code = prev.unit_code
    if unit != _value(prev.preferred, "unit_code") or received_at != prev.received_at or ordered[0] is e:
        unit_code = _unit(unit, ordered, received_at, policy)
    channel = preferred.get("channel")
    submitted_at = prev.submitted_at
    if e.status == Status.SUBMITTED:
        submitted_at = _first_time(ordered, {Status.SUBMITTED})
    return DossierFacts(
        history=ordered,
        timeline=ordered,
        grouped=grouped,
        skews={},
        sources=sources,
        first_seen=first_seen,
        status=status,
        procedure_code=procedure_code,
        unit_code=unit_code,
        channel=channel if channel is not None else Channel.UNKNOWN,
        submitted_at=submitted_at,
        received_at=received_at,
        ended_at=ended_at,
        version=version,
        pauses=pauses,
        letters=letters,
        letter_at=letter_at,
        extended_due_at=preferred.get("extended_due_at"),
        said_complex=preferred.get("complex_case"),
        reports=reports,
        attributes=_attributes(preferred) if e.indicators else prev.attributes,
        preferred=ranked,
    )


def _in_order(by_name: dict[str, _V], timeline: Sequence[HistoryEntry]) -> dict[str, _V]:
    """``by_name`` keyed in the order the sources first appear in ``timeline``."""
    order = dict.fromkeys(e.source for e in timeline)
    return {name: by_name[name] for name in order if name in by_name}


def _value(ranked: Ranked, name: str) -> Any:
    held = ranked.get(name)
    return None if held is None else held[2]


def _first_letter(timeline: Sequence[HistoryEntry]) -> datetime | None:
    return min((e.occurred_at for e in timeline if e.extended_due_at is not None), default=None)


def _reports(grouped: dict[str, list[HistoryEntry]], letter_at: datetime | None) -> Reports:
    """Each system's computed dates, in its own order: those before the first apology letter
    (after it a source shows the letter's date, a decision, on every update)."""
    return {
        name: [
            (e.occurred_at, e.due_at)
            for e in entries
            if e.due_at is not None and (letter_at is None or e.occurred_at < letter_at)
        ]
        for name, entries in grouped.items()
    }


def _attributes(preferred: dict[Any, Any]) -> dict[str, str]:
    return dict(sorted((k[1], v) for k, v in preferred.items() if isinstance(k, tuple)))


def _ended(timeline: Sequence[HistoryEntry]) -> datetime | None:
    """The end of processing: the first ending step (else a return), or an earlier stated end."""
    ended_at = _first_time(timeline, ENDING) or _first_time(timeline, {Status.RETURNED})
    stated_end = min((e.stated_ended_at for e in timeline if e.stated_ended_at is not None), default=None)
    if stated_end is not None and (ended_at is None or stated_end < ended_at):
        ended_at = stated_end  # the "result ready" update was lost, a later record states it
    return ended_at


def _source_order(entries: Sequence[HistoryEntry]) -> list[HistoryEntry]:
    """A source's own order: its sequence numbers when it has them (robust to its clock), else time."""
    if all(e.seq is not None for e in entries):
        return sorted(entries, key=_seq_key)
    return sorted(entries, key=HistoryEntry.order_key)


def _seq_key(e: HistoryEntry) -> tuple[int, datetime, str]:
    return (e.seq or 0, e.occurred_at, e.event_id)  # only read when every entry has a number


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
        last = entries[-1]
        views[source] = SourceView(
            source=source,
            status=last.status,
            source_status=last.source_status,
            last_occurred_at=last.occurred_at,
            last_seen_at=max(e.ingested_at for e in entries),
            last_seq=last.seq,
            due_at=next((e.due_at for e in reversed(entries) if e.due_at is not None), None),
            overdue=next((e.overdue for e in reversed(entries) if e.overdue is not None), None),
            events=len(entries),
            unit_code=next((e.unit_code for e in reversed(entries) if e.unit_code), None),
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


def _first_time(
    history: Sequence[HistoryEntry], statuses: frozenset[Status] | set[Status]
) -> datetime | None:
    times = [e.occurred_at for e in history if e.status in statuses]
    return min(times) if times else None


def _preferred_values(
    timeline: Sequence[HistoryEntry], policy: MergePolicy
) -> dict[Any, tuple[int, OrderKey, Any]]:
    """Each value from the most trusted source that reports it (that source's latest report), in
    one pass over the timeline: the channel (UNKNOWN is not a report), procedure, unit code, apology
    letter date, complex-case word, and each indicator attribute (keyed ``("attr", name)``); with
    the rank of the source and the order key of the entry it came from."""
    rank = policy.rank
    best: Ranked = {}
    for e in timeline:
        _offer_values(best, e, rank(e.source))
    return best


def _offer_values(best: Ranked, e: HistoryEntry, r: int) -> None:
    """Weigh the values ``e`` reports (from a source of rank ``r``) against those held: the more
    trusted source wins, and between reports of the same rank the later one (``e`` may come in
    before a held report: ``gather_after``)."""
    key = e.order_key()

    def offer(name: Any, value: Any) -> None:
        held = best.get(name)
        if held is None or r < held[0] or (r == held[0] and key > held[1]):
            best[name] = (r, key, value)

    if e.channel is not Channel.UNKNOWN:
        offer("channel", e.channel)
    if e.procedure_code is not None:
        offer("procedure_code", e.procedure_code)
    if e.unit_code is not None:
        offer("unit_code", e.unit_code)
    if e.extended_due_at is not None:
        offer("extended_due_at", e.extended_due_at)
    if e.complex_case is not None:
        offer("complex_case", e.complex_case)
    for name, value in e.indicators:
        offer(("attr", name), value)


def _unit(
    code: str | None, timeline: Sequence[HistoryEntry], received_at: datetime | None, policy: MergePolicy
) -> str | None:
    """The most trusted source's unit ``code``, as the unit holding it on the receipt day (a system
    still sending a code the 2025 mergers retired counts the dossier under today's unit)."""
    at = received_at or (timeline[0].occurred_at if timeline else None)
    return code if at is None else policy.unit_codes.current(code, at.astimezone(VN_TZ).date())


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


def _stated(timeline: Sequence[HistoryEntry], policy: MergePolicy) -> datetime | None:
    """A receipt only stated in records (its own update lost everywhere), from the most trusted."""
    found = [(policy.rank(e.source), e.stated_received_at) for e in timeline if e.stated_received_at]
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
        if start is None or (end is not None and end < start):
            continue  # a supplement "answered before it was asked" states nothing usable
        if not any(p.start <= (end or start) and (p.end is None or start <= p.end) for p in out):
            out.append(Pause(start, end, "supplement", e.source))
        elif end is not None:
            # The same pause, open in the status updates, but this record states its end.
            out = [replace(p, end=end) if p.start == start and p.end is None else p for p in out]
    return tuple(sorted(out, key=lambda p: p.start))
