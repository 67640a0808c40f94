"""A dossier's state from its history, as a pipeline of named steps (docs/domain-rules.md §11):

1. **facts** (``streams.facts.gather``): what the history says, every source side by side, skewed
   clocks read corrected;
2. **conflicts** (``streams.conflicts.detect``): disagreements that outlived their tolerance;
3. **legal view** (``streams.legal``): the complex-case decision, the apology letter trusted,
   the due time and the outcome;
4. **discrepancies** (``streams.discrepancies``): where a source's date or overdue flag differs
   from the legal one, and why;
5. **alerts** (``streams.legal.due_alerts``): deadline alerts that begin now;
6. **state**: all of it, with the bookkeeping (version, fired alerts) carried over from ``base``.

Pure and deterministic: the same history evaluated at the same moment gives the same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from streams.conflicts import detect
from streams.discrepancies import DueContext, due_discrepancies, legal_overdue_at, overdue_discrepancies
from streams.domain.deadlines import judged_due, tracking_due
from streams.facts import DossierFacts, gather, gather_after
from streams.legal import (
    ALERT_KINDS,
    Legal,
    LegalFacts,
    LegalRules,
    decide_complex_case,
    due_alerts,
    legal_view,
    same_moment,
)
from streams.merge_policy import MergePolicy
from streams.model import ENDING, Status
from streams.state import Discrepancy, DossierState, HistoryEntry


@dataclass(frozen=True)
class Reading:
    """One reading of the law for a dossier (complex case or not): its view and what it explains."""

    legal: Legal
    discrepancies: tuple[Discrepancy, ...]

    @property
    def unexplained(self) -> int:
        return sum(1 for d in self.discrepancies if d.field == "due_at" and d.reason == "unexplained")


def derive(
    base: DossierState,
    history: Sequence[HistoryEntry],
    policy: MergePolicy,
    as_of: datetime | None = None,
) -> DossierState:
    """Everything but bookkeeping, from the history; time-dependent parts as of ``as_of``.

    ``as_of`` is a capture time: the state is what dongbo knew then, so records captured later
    are kept in the history but not read yet (a replay that reads one source ahead of another
    sees what a live run saw). Deadlines are judged ``policy.alert_grace`` earlier than that:
    legal times are stamps, and a stamp reaches dongbo a sync delay after it."""
    visible = [h for h in history if as_of is None or h.ingested_at <= as_of]
    facts = _facts(base, visible, policy)
    as_of = as_of or (facts.history[-1].occurred_at if facts.history else None)
    conflicts = detect(facts.sources, facts.first_seen, as_of, policy.conflicts) if as_of else {}
    state = base.evolve(
        status=facts.status,
        procedure_code=facts.procedure_code,
        unit_code=facts.unit_code,
        channel=facts.channel,
        submitted_at=facts.submitted_at,
        received_at=facts.received_at,
        ended_at=facts.ended_at,
        last_event_at=facts.history[-1].occurred_at if facts.history else None,
        sources=facts.sources,
        pauses=facts.pauses,
        attributes=facts.attributes,
        conflicts=tuple(conflicts[k] for k in sorted(conflicts)),
        evaluated_at=as_of,
        # Everything visible (the usual case): the history is the one the facts sorted.
        history=facts.history
        if len(visible) == len(history)
        else tuple(sorted(history, key=HistoryEntry.order_key)),
    )
    if policy.rules is None:
        return _holding(state, policy, facts)
    judged_at = as_of - policy.alert_grace if as_of is not None else None
    reading = legal_reading(policy.rules, facts, policy, judged_at)
    legal = reading.legal
    newly = due_alerts(
        policy.rules, legal, unit_code=facts.unit_code, ended=facts.ended_at is not None, as_of=judged_at,
        fired=frozenset(base.alerts),
    )  # fmt: skip
    derived = state.evolve(
        due_at=legal.due_at,
        extended_due_at=legal.extended_due_at,
        outcome=legal.outcome,
        received_late=legal.received_late,
        discrepancies=reading.discrepancies + _skew_notes(facts.skews),
        alerts=base.alerts + tuple(k for k in ALERT_KINDS if k in newly),
    )
    return _holding(derived, policy, facts)


# The facts a state was derived from ride along on it, as an attribute that is not a field (not
# compared, stored or published; ``DossierState.evolve`` copies it with the rest). The next derive
# of that state folds the entries that became visible since into them (``facts.gather_after``):
# an entry after the dossier's latest, the common case, costs a few steps, not a pass over the
# history. A state read back from the table has none and gathers once.
_HELD = "_derived_from"


# Facts are kept from this many entries on: a shorter history is gathered in a few steps, and its
# facts would weigh as much as its state (a million one-record dossiers: ~1.6 KB more each in the
# state cache, measured, which its budget does not see as the states' own).
HOLD_FROM = 3


def _holding(state: DossierState, policy: MergePolicy, facts: DossierFacts) -> DossierState:
    if facts.skews or len(facts.history) < HOLD_FROM:
        # The fold also declines a skewed clock (every time is read shifted): nothing to keep.
        state.__dict__.pop(_HELD, None)
    else:
        object.__setattr__(state, _HELD, (policy, facts))
    return state


def _facts(base: DossierState, visible: list[HistoryEntry], policy: MergePolicy) -> DossierFacts:
    """``gather(visible, policy)``, folded from the facts ``base`` holds when ``visible`` is their
    history and entries that each come last in their source's order (``gather_after``); the same
    history: they are reused as they are."""
    held = base.__dict__.get(_HELD)
    if held is None or held[0] is not policy:
        return gather(visible, policy)
    facts: DossierFacts = held[1]
    seen = len(facts.history)
    if tuple(visible[:seen]) == facts.history:
        new = visible[seen:]  # usually none (time passed) or one (a record became visible)
    else:  # an entry shows before others: those it joins are the ones held (the same objects)
        held_ids = {id(h) for h in facts.history}
        new = [h for h in visible if id(h) not in held_ids]
    if len(visible) - len(new) != seen:
        return gather(visible, policy)  # some entry held is not visible any more
    for e in new:
        after = gather_after(facts, e, policy)
        if after is None:
            return gather(visible, policy)
        facts = after
    return facts


def legal_reading(
    rules: LegalRules, facts: DossierFacts, policy: MergePolicy, as_of: datetime | None
) -> Reading:
    """The legal view under the complex-case decision (``legal.decide_complex_case``), and the
    discrepancies it leaves."""
    lf = LegalFacts(
        version=facts.version, unit_code=facts.unit_code, channel=facts.channel,
        submitted_at=facts.submitted_at, received_at=facts.received_at, ended_at=facts.ended_at,
        pauses=facts.pauses,
    )  # fmt: skip
    readings: dict[bool, Reading] = {}

    def read(complex_case: bool) -> Reading:
        if complex_case not in readings:
            extended = _trusted_letter(rules, facts, lf, policy, complex_case)
            view = legal_view(rules, lf, complex_case=complex_case, extended_due_at=extended, as_of=as_of)
            readings[complex_case] = Reading(view, _discrepancies(rules, facts, lf, view))
        return readings[complex_case]

    # The date each system computed last (most trusted first): it shows the limit applied.
    reports = facts.reports
    source_dues = tuple(reports[n][-1][1] for n in sorted(reports, key=policy.rank) if reports[n])
    complex_case = decide_complex_case(
        rules, lf, said=facts.said_complex, source_dues=source_dues,
        unexplained=lambda c: read(c).unexplained,
    )  # fmt: skip
    return read(complex_case)


def _trusted_letter(
    rules: LegalRules, facts: DossierFacts, lf: LegalFacts, policy: MergePolicy, complex_case: bool
) -> datetime | None:
    """The apology letter's date (docs/domain-rules.md §6). When systems disagree on it, a system
    that also moved its own appointment dates moved the letter's too: trust one whose dates before
    the letter were the legal ones."""
    letters = facts.letters
    if len(set(letters.values())) <= 1:
        return facts.extended_due_at
    before = legal_view(rules, lf, complex_case=complex_case, extended_due_at=None, as_of=None).due_at
    reports = facts.reports
    faithful = [n for n in letters if reports.get(n) and same_moment(reports[n][-1][1], before)]
    return letters[min(faithful, key=policy.rank)] if faithful else facts.extended_due_at


def _discrepancies(
    rules: LegalRules, facts: DossierFacts, lf: LegalFacts, view: Legal
) -> tuple[Discrepancy, ...]:
    if lf.version is None or lf.received_at is None or view.due_at is None:
        return ()
    ctx = DueContext(
        lf.version, rules.calendar(lf.unit_code), lf.received_at, lf.channel, lf.pauses, rules.policy,
        view.complex_case,
    )  # fmt: skip
    extended, sources = view.extended_due_at, facts.sources
    # A source showing an apology letter's new date tracks the dossier as the law says (§6).
    tracked = tracking_due(view.due_at, extended)
    dues = due_discrepancies(ctx, sources, tracked, facts.reports, extended, facts.letter_at)
    judged = judged_due(view.due_at, extended, rules.policy)
    flags = overdue_discrepancies(
        sources,
        {n: legal_overdue_at(v.last_occurred_at, judged, lf.ended_at, lf.pauses) for n, v in sources.items()},
        {d.source for d in dues if d.reason != "unexplained"},
        {n: v.status in ENDING or v.status == Status.RETURNED for n, v in sources.items()},
    )
    return tuple(dues + flags)


def _skew_notes(skews: dict[str, timedelta]) -> tuple[Discrepancy, ...]:
    """A skewed clock, said once per source: why its times differ from the state's (§14)."""
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
