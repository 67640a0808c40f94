"""The legal side of a dossier's state, pure: due time, outcome, and deadline alerts.

Built on ``streams.domain`` (catalogue, business calendar, deadline arithmetic). The state keeps
which alerts have fired, so each fires once per dossier and kind; an alert whose moment comes
after the dossier ended or while its clock is stopped never fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from streams.domain.calendar import BusinessCalendar
from streams.domain.catalogue import Catalogue, NoVersionAt, ProcedureVersion, UnknownProcedure
from streams.domain.deadlines import compute_due, judge_outcome, pausing_statuses
from streams.domain.policy import DEFAULT_POLICY, DeadlinePolicy, ExtensionJudgement
from streams.domain.units import CalendarBook, default_book
from streams.model import Channel, Outcome, Status
from streams.state import Pause

NEAR = "near_deadline"
OVERDUE = "overdue"
RECEIVED_LATE = "received_late"
ALERT_KINDS = (RECEIVED_LATE, NEAR, OVERDUE)


@dataclass(frozen=True)
class LegalRules:
    """Everything the law and local policy say, as loaded data."""

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
    complex_case: bool = False  # the complex-case limit applies (read from the sources' dates)


def legal_view(
    rules: LegalRules,
    version: ProcedureVersion | None,
    *,
    unit_code: str | None,
    channel: Channel,
    submitted_at: datetime | None,
    received_at: datetime | None,
    ended_at: datetime | None,
    pauses: tuple[Pause, ...],
    extended_due_at: datetime | None,
    as_of: datetime | None,
    source_dues: tuple[datetime, ...] = (),
    complex_case: bool | None = None,
) -> Legal:
    """``complex_case``: whether the complex-case limit applies, when a source says so (or the
    caller weighed the dates); None: read it from the systems' dates."""
    cal = rules.calendar(unit_code)
    late = _received_late(rules, cal, channel, submitted_at, received_at, as_of)
    if received_at is None:
        # Refused at reception (or withdrawn before it): ended with no clock ever started.
        outcome = judge_outcome(None, ended_at, as_of or ended_at) if ended_at else Outcome.PENDING
        return Legal(outcome=outcome, received_late=late, note="not received")
    if version is None:
        return Legal(received_late=late, note="procedure not in the catalogue at the receipt date")
    spans = [(p.start, p.end, p.reason) for p in pauses]
    comp = compute_due(received_at, version, cal, spans, channel=channel, policy=rules.policy, explain=False)
    said, complex_case = complex_case, False
    if said and version.complex_limit is not None:
        longer = compute_due(
            received_at, version, cal, spans, channel=channel, policy=rules.policy,
            complex_case=True, explain=False,
        )  # fmt: skip
        comp, complex_case = longer, True
    # Whether a case is complex (verification needed, ...) is an official's decision that no source
    # sends as a field; the appointment date they set shows it. A source date that is exactly the
    # complex-case limit's due time, and not the ordinary one, decides it.
    ordinary = comp.due_at
    if (
        version.complex_limit is not None
        and said is None
        and ordinary is not None
        and source_dues
        and not any(same_moment(d, ordinary) for d in source_dues)
    ):
        longer = compute_due(
            received_at, version, cal, spans, channel=channel, policy=rules.policy,
            complex_case=True, explain=False,
        )  # fmt: skip
        if longer.due_at is not None and any(same_moment(d, longer.due_at) for d in source_dues):
            comp, complex_case = longer, True
        elif _complex_on_a_wrong_calendar(received_at, version, cal, spans, channel, rules, source_dues):
            # Every system's date is off (their calendars are wrong too), but it is the complex
            # limit's date on the same wrong calendar: the case is complex all the same.
            comp, complex_case = longer, True
    judged = comp.due_at
    if extended_due_at is not None and rules.policy.extension_judged_against is ExtensionJudgement.EXTENDED:
        judged = extended_due_at
    now = as_of or received_at
    outcome = judge_outcome(judged, ended_at, now, rules.policy.early_margin, cal)
    return Legal(
        due_at=comp.due_at,
        extended_due_at=extended_due_at,
        outcome=outcome,
        clock_stopped=comp.clock_stopped,
        received_late=late,
        complex_case=complex_case,
    )


def _complex_on_a_wrong_calendar(
    received_at: datetime,
    version: ProcedureVersion,
    cal: BusinessCalendar,
    spans: list[tuple[datetime, datetime | None, str]],
    channel: Channel,
    rules: LegalRules,
    source_dues: tuple[datetime, ...],
) -> bool:
    from streams.discrepancies import calendar_hypotheses

    hi = max(source_dues).date() + timedelta(days=2)
    for variant, _reasons in calendar_hypotheses(cal, received_at.date() - timedelta(days=1), hi)[1:]:
        kw: dict[str, Any] = {"channel": channel, "policy": rules.policy, "explain": False}
        ordinary = compute_due(received_at, version, variant, spans, **kw).due_at
        longer = compute_due(received_at, version, variant, spans, complex_case=True, **kw).due_at
        if ordinary is None or longer is None or any(same_moment(d, ordinary) for d in source_dues):
            continue
        if any(same_moment(d, longer) for d in source_dues):
            return True
    return False


def same_moment(a: datetime | None, b: datetime | None) -> bool:
    """Two dates systems show for the same thing (within a minute: a desk may round)."""
    return a is not None and b is not None and abs(a - b) <= timedelta(minutes=1)


def _received_late(
    rules: LegalRules,
    cal: BusinessCalendar,
    channel: Channel,
    submitted_at: datetime | None,
    received_at: datetime | None,
    as_of: datetime | None,
) -> bool:
    if channel is not Channel.ONLINE or submitted_at is None:
        return False
    until = received_at or as_of
    if until is None:
        return False
    return cal.working_time_between(submitted_at, until) > rules.policy.receipt_allowance


def tracking_due(legal: Legal) -> datetime | None:
    return legal.extended_due_at or legal.due_at


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
    due = tracking_due(legal)
    if ended or legal.clock_stopped or due is None:
        return out
    cal = rules.calendar(unit_code)
    if as_of > due:
        if OVERDUE not in fired:
            out.add(OVERDUE)
    elif as_of >= near_moment(cal, due, rules.policy.near_deadline) and NEAR not in fired:
        out.add(NEAR)
    return out


def near_moment(cal: BusinessCalendar, due: datetime, threshold: timedelta) -> datetime:
    return cal.add_working_time(due, -threshold)


def alert_moments(
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
    """When an alert could next fire with no new event (for the due-time index)."""
    cal = rules.calendar(unit_code)
    out = []
    if channel is Channel.ONLINE and submitted_at and received_at is None and RECEIVED_LATE not in fired:
        out.append(
            cal.add_working_time(submitted_at, rules.policy.receipt_allowance) + timedelta(microseconds=1)
        )
    due = tracking_due(legal)
    if not ended and not legal.clock_stopped and due is not None:
        if NEAR not in fired:
            out.append(near_moment(cal, due, rules.policy.near_deadline))
        if OVERDUE not in fired:
            out.append(due + timedelta(microseconds=1))  # overdue once *past* the due time
    return out
