"""The legal side of a dossier's state, pure: due time, outcome, the complex-case decision, and
deadline alerts (docs/domain-rules.md §1–§10).

Built on ``streams.domain`` (catalogue, business calendar, deadline arithmetic), which holds each
rule's one definition: received late, near deadline, the date tracked and the date judged. This
module applies them to a dossier's facts. The state keeps which alerts have fired, so each fires
once per dossier and kind; an alert whose moment comes after the dossier ended or while its clock
is stopped never fires.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from streams.domain.calendar import BusinessCalendar
from streams.domain.catalogue import Catalogue, NoVersionAt, ProcedureVersion, UnknownProcedure
from streams.domain.deadlines import (
    compute_due,
    due_of,
    judge_outcome,
    judged_due,
    near_deadline,
    near_deadline_from,
    pausing_statuses,
    received_late,
    received_late_from,
    tracking_due,
)
from streams.domain.policy import DEFAULT_POLICY, DeadlinePolicy
from streams.domain.units import CalendarBook, default_book
from streams.model import Channel, Outcome, Status
from streams.state import Pause

NEAR = "near_deadline"
OVERDUE = "overdue"
RECEIVED_LATE = "received_late"
ALERT_KINDS = (RECEIVED_LATE, NEAR, OVERDUE)
_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class LegalRules:
    """Everything the law and local policy say, as loaded data (``streams.configured`` builds it
    from settings)."""

    catalogue: Catalogue
    calendars: CalendarBook
    policy: DeadlinePolicy = DEFAULT_POLICY

    @classmethod
    def packaged(cls) -> LegalRules:
        from streams.domain.catalogue_io import cached_catalogue

        return cls(cached_catalogue(), default_book())

    def version(self, procedure_code: str | None, received_at: datetime | None) -> ProcedureVersion | None:
        if not procedure_code or received_at is None:
            return None
        try:
            return self.catalogue.lookup(procedure_code, received_at)
        except (UnknownProcedure, NoVersionAt):
            return None

    def pausing(self, version: ProcedureVersion | None) -> frozenset[Status]:
        return pausing_statuses(version, self.policy)

    def calendar(self, unit_code: str | None) -> BusinessCalendar:
        return self.calendars.for_unit(unit_code)


@dataclass(frozen=True)
class Legal:
    due_at: datetime | None = None  # the legal due time (judged against); None: unknown / paused
    extended_due_at: datetime | None = None  # an apology letter's new date (tracked against)
    outcome: Outcome = Outcome.PENDING
    clock_stopped: bool = False
    received_late: bool = False
    note: str | None = None  # why there is no due time, when there is none
    complex_case: bool = False  # the complex-case limit applies


@dataclass(frozen=True)
class LegalFacts:
    """What the legal rules need of a dossier (from ``streams.facts``)."""

    version: ProcedureVersion | None
    unit_code: str | None
    channel: Channel
    submitted_at: datetime | None
    received_at: datetime | None
    ended_at: datetime | None
    pauses: tuple[Pause, ...]


def _spans(pauses: Sequence[Pause]) -> tuple[tuple[datetime, datetime | None, str], ...]:
    return tuple((p.start, p.end, p.reason) for p in pauses)


def legal_view(
    rules: LegalRules,
    facts: LegalFacts,
    *,
    complex_case: bool,
    extended_due_at: datetime | None,
    as_of: datetime | None,
) -> Legal:
    """Due time, outcome and receipt judgement at ``as_of``, with the complex-case limit or not
    (decided by :func:`decide_complex_case`)."""
    cal = rules.calendar(facts.unit_code)
    late = received_late(
        facts.channel, facts.submitted_at, facts.received_at, cal, now=as_of, policy=rules.policy
    )
    if facts.received_at is None:
        # Refused at reception (or withdrawn before it): ended with no clock ever started.
        ended = facts.ended_at
        outcome = judge_outcome(None, ended, as_of or ended) if ended else Outcome.PENDING
        return Legal(outcome=outcome, received_late=late, note="not received")
    version = facts.version
    if version is None:
        return Legal(received_late=late, note="procedure not in the catalogue at the receipt date")
    complex_case = complex_case and version.complex_limit is not None
    comp = due_of(
        facts.received_at, version, cal, _spans(facts.pauses), facts.channel, rules.policy, complex_case
    )
    judged = judged_due(comp.due_at, extended_due_at, rules.policy)
    outcome = judge_outcome(
        judged, facts.ended_at, as_of or facts.received_at, rules.policy.early_margin, cal
    )
    return Legal(
        due_at=comp.due_at,
        extended_due_at=extended_due_at,
        outcome=outcome,
        clock_stopped=comp.clock_stopped,
        received_late=late,
        complex_case=complex_case,
    )


def decide_complex_case(
    rules: LegalRules,
    facts: LegalFacts,
    *,
    said: bool | None,
    source_dues: tuple[datetime, ...],
    unexplained: Callable[[bool], int],
) -> bool:
    """Whether the complex-case limit applies (docs/domain-rules.md §1): the one place it is decided.

    Whether a case is complex (verification needed, ...) is an official's decision at the desk.
    In this order:

    1. a source states it (the one-stop feed's ``complexCase``): that decision;
    2. else the dates the systems computed show it: a date that is exactly the complex limit's due
       time and none that is the ordinary one, on the legal calendar or on the same wrong calendar
       (every system's calendar missing the same holiday period);
    3. else, when no system's date is either limit's even on a wrong calendar (each is off in more
       than one way), the reading under which fewer of the systems' dates stay unexplained
       (``unexplained(complex)`` counts them); a tie keeps the ordinary limit.
    """
    version, received_at = facts.version, facts.received_at
    if version is None or version.complex_limit is None or received_at is None:
        return False
    if said is not None:
        return said
    if not source_dues:
        return False
    cal = rules.calendar(facts.unit_code)
    if _dates_show_complex(rules, facts, cal, received_at, version, source_dues):
        return True
    if _dates_show_complex_on_a_wrong_calendar(rules, facts, cal, received_at, version, source_dues):
        return True
    ordinary = unexplained(False)
    return ordinary > 0 and unexplained(True) < ordinary


def _two_limits(
    rules: LegalRules,
    facts: LegalFacts,
    cal: BusinessCalendar,
    received_at: datetime,
    version: ProcedureVersion,
) -> tuple[datetime | None, datetime | None]:
    spans = _spans(facts.pauses)

    def due(complex_case: bool) -> datetime | None:
        if cal is rules.calendar(facts.unit_code):
            return due_of(received_at, version, cal, spans, facts.channel, rules.policy, complex_case).due_at
        return compute_due(
            received_at, version, cal, spans, channel=facts.channel, policy=rules.policy,
            complex_case=complex_case, explain=False,
        ).due_at  # fmt: skip

    return due(False), due(True)


def _shows(ordinary: datetime | None, longer: datetime | None, dues: tuple[datetime, ...]) -> bool:
    return (
        ordinary is not None
        and longer is not None
        and not any(same_moment(d, ordinary) for d in dues)
        and any(same_moment(d, longer) for d in dues)
    )


def _dates_show_complex(
    rules: LegalRules,
    facts: LegalFacts,
    cal: BusinessCalendar,
    received_at: datetime,
    version: ProcedureVersion,
    source_dues: tuple[datetime, ...],
) -> bool:
    return _shows(*_two_limits(rules, facts, cal, received_at, version), source_dues)


def _dates_show_complex_on_a_wrong_calendar(
    rules: LegalRules,
    facts: LegalFacts,
    cal: BusinessCalendar,
    received_at: datetime,
    version: ProcedureVersion,
    source_dues: tuple[datetime, ...],
) -> bool:
    from streams.discrepancies import calendar_hypotheses

    ordinary = _two_limits(rules, facts, cal, received_at, version)[0]
    if ordinary is not None and any(same_moment(d, ordinary) for d in source_dues):
        return False
    hi = max(source_dues).date() + timedelta(days=2)
    for variant, _reasons in calendar_hypotheses(cal, received_at.date() - timedelta(days=1), hi)[1:]:
        if _shows(*_two_limits(rules, facts, variant, received_at, version), source_dues):
            return True
    return False


def same_moment(a: datetime | None, b: datetime | None) -> bool:
    """Two dates systems show for the same thing (within a minute: a desk may round)."""
    return a is not None and b is not None and abs(a - b) <= timedelta(minutes=1)


def due_alerts(
    rules: LegalRules,
    legal: Legal,
    *,
    unit_code: str | None,
    ended: bool,
    as_of: datetime | None,
    fired: frozenset[str],
) -> set[str]:
    """Alert kinds that fire at ``as_of`` (and had not fired before)."""
    if as_of is None:
        return set()
    out = set()
    if legal.received_late and RECEIVED_LATE not in fired:
        out.add(RECEIVED_LATE)
    due = tracking_due(legal.due_at, legal.extended_due_at)
    if ended or legal.clock_stopped or due is None:
        return out
    if as_of > due:
        if OVERDUE not in fired:
            out.add(OVERDUE)
    elif NEAR not in fired and near_deadline(
        due, as_of, rules.calendar(unit_code), rules.policy.near_deadline
    ):
        out.add(NEAR)
    return out


def next_moments(
    rules: LegalRules,
    legal: Legal,
    *,
    unit_code: str | None,
    channel: Channel,
    submitted_at: datetime | None,
    received_at: datetime | None,
    ended: bool,
    fired: frozenset[str],
) -> list[datetime]:
    """When the legal view could next change with no new event (for the due-time index): an alert
    begins, or the outcome turns overdue against the judged date (which, with an apology letter,
    comes before the tracked one)."""
    cal = rules.calendar(unit_code)
    out = []
    if channel is Channel.ONLINE and submitted_at and received_at is None and RECEIVED_LATE not in fired:
        out.append(received_late_from(submitted_at, cal, rules.policy))
    if ended or legal.clock_stopped:
        return out
    due = tracking_due(legal.due_at, legal.extended_due_at)
    if due is not None:
        if NEAR not in fired:
            out.append(near_deadline_from(due, cal, rules.policy.near_deadline))
        if OVERDUE not in fired:
            out.append(due + _ONE_US)  # overdue once *past* the due time
    judged = judged_due(legal.due_at, legal.extended_due_at, rules.policy)
    if judged is not None and legal.outcome is Outcome.PENDING:
        out.append(judged + _ONE_US)
    return out
