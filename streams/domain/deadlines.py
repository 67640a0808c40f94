"""Deadline arithmetic (docs/domain-rules.md §3–§7), pure functions over a ``BusinessCalendar``.

* :func:`effective_receipt` — when the clock starts (rule 3, policy).
* :func:`compute_due` — the legal due time with the steps that explain it (rules 4–5).
* :meth:`DueComputation.with_extension` — an apology letter's new date, kept beside the original
  (rule 6).
* :func:`received_late` / :func:`received_late_from`, :func:`near_deadline` /
  :func:`near_deadline_from`, :func:`overdue_now`, :func:`judge_outcome`, :func:`tracking_due`,
  :func:`judged_due` (rules 3, 6, 7, 9, 10).

Each rule has this one definition; the merge, the alerts, the timers and the simulator's truth all
call it. A rule that begins at a moment is defined by that moment (``*_from``) and its predicate
is "now is at or past it", so the moment the due-time index schedules and the judgement made when
it comes can never disagree.

**Open pause** (``end=None``: the clock is stopped now). Without ``now``, ``due_at`` is None: the
due time is not known while the citizen has not answered. With ``now``, the pause is taken to end
at ``now`` and the result is *provisional* (``provisional=True``): the earliest the due time can
still be; it moves later as long as the pause lasts. A pause that starts at or after the (so far
extended) due time does not extend it: a dossier already late stays late.

Pauses extend every unit by the *working time* they cover (rule 5), including DAYS and MONTHS.
For the hot path (every event), pass ``explain=False``: no explanation strings are built.
"""

from __future__ import annotations

import calendar as _cal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from streams.domain.calendar import BusinessCalendar
from streams.domain.catalogue import ProcedureVersion, Step
from streams.domain.explain import fmt_dt, fmt_working, skipped_days
from streams.domain.limits import Limit, LimitUnit
from streams.domain.policy import DEFAULT_POLICY, DeadlinePolicy, ExtensionJudgement, ReceiptRule
from streams.model import Channel, Outcome, Status

_ONE_US = timedelta(microseconds=1)


class _SpanLike(Protocol):
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime | None: ...
    @property
    def reason(self) -> str: ...


PauseLike = _SpanLike | tuple[datetime, datetime | None] | tuple[datetime, datetime | None, str]


@dataclass(frozen=True)
class PauseSpan:
    start: datetime
    end: datetime | None  # None: still paused
    reason: str = "supplement"


@dataclass(frozen=True)
class DueComputation:
    received_at: datetime  # as recorded
    receipt_at: datetime  # when the clock started (rule 3)
    limit: Limit
    base_due_at: datetime  # receipt + limit, before pauses
    due_at: datetime | None  # the legal due time; None while an open pause makes it unknown
    paused: timedelta = timedelta(0)  # working time the clock stood still
    clock_stopped: bool = False  # an open pause: the clock is stopped now
    provisional: bool = False  # an open pause was taken to end at `now`
    steps: tuple[str, ...] = ()
    extended_due_at: datetime | None = None  # apology letter's new appointment (rule 6)
    extension_reason: str | None = None

    @property
    def tracking_due_at(self) -> datetime | None:
        return tracking_due(self.due_at, self.extended_due_at)

    def judged_due_at(self, policy: DeadlinePolicy = DEFAULT_POLICY) -> datetime | None:
        return judged_due(self.due_at, self.extended_due_at, policy)

    def with_extension(
        self, new_due_at: datetime, reason: str = "phiếu xin lỗi và hẹn lại"
    ) -> DueComputation:
        """Keep the original due time and add the new appointment (rule 6)."""
        step = f"extended to {fmt_dt(new_due_at)} ({reason}); still judged against the original date"
        return replace(self, extended_due_at=new_due_at, extension_reason=reason, steps=(*self.steps, step))

    def explain(self) -> str:
        return "\n".join(self.steps)

    def to_json(self) -> dict[str, Any]:
        def iso(dt: datetime | None) -> str | None:
            return None if dt is None else BusinessCalendar.local(dt).isoformat()

        return {
            "due_at": iso(self.due_at),
            "received_at": iso(self.received_at),
            "receipt_at": iso(self.receipt_at),
            "base_due_at": iso(self.base_due_at),
            "limit": {"value": _number(self.limit.value), "unit": self.limit.unit.value},
            "paused_seconds": self.paused.total_seconds(),
            "clock_stopped": self.clock_stopped,
            "provisional": self.provisional,
            "extended_due_at": iso(self.extended_due_at),
            "steps": list(self.steps),
        }


def _number(value: float) -> int | float:
    return int(value) if value == int(value) else value


# -- rule 3: receipt ----------------------------------------------------------------------------


def _apply_rule(rule: ReceiptRule, dt: datetime, calendar: BusinessCalendar) -> datetime:
    if rule is ReceiptRule.AS_RECEIVED:
        return calendar.local(dt)
    if rule is ReceiptRule.NEXT_OPENING:
        return calendar.next_opening(dt)
    local = calendar.local(dt)
    opening = calendar.opening_of_day(local.date())
    if opening is not None and local <= opening:
        return opening
    first = calendar.opening_of_day(calendar.next_working_day(local.date()))
    assert first is not None  # a working day has office hours
    return first


def effective_receipt(
    received_at: datetime,
    channel: Channel | str,
    calendar: BusinessCalendar,
    policy: DeadlinePolicy = DEFAULT_POLICY,
) -> datetime:
    """When the clock starts (rule 3): at the counter, the desk time when the office is open and
    ``policy.counter_outside_hours`` otherwise; online, ``policy.online_receipt`` (default: the
    next working day's opening). Postal and unknown channels are treated as the counter."""
    if Channel(str(channel).upper()) is Channel.ONLINE:
        return _apply_rule(policy.online_receipt, received_at, calendar)
    if calendar.is_open(received_at):
        return calendar.local(received_at)
    return _apply_rule(policy.counter_outside_hours, received_at, calendar)


# Remembered: asked at every evaluation of an online dossier (calendars are long-lived, by identity).
@lru_cache(maxsize=1 << 16)
def received_late_from(
    submitted_at: datetime, calendar: BusinessCalendar, policy: DeadlinePolicy = DEFAULT_POLICY
) -> datetime:
    """The first instant at which an online dossier submitted at ``submitted_at`` and not yet
    received is *received late* (chậm tiếp nhận): more than ``policy.receipt_allowance`` of working
    time (8 h) after submission. Outside office hours no working time passes, so this is always an
    instant of office hours (an allowance ending at Friday's close makes it Monday's opening)."""
    return calendar.add_working_time(submitted_at, policy.receipt_allowance + _ONE_US, earliest=True)


def received_late(
    channel: Channel | str,
    submitted_at: datetime | None,
    received_at: datetime | None,
    calendar: BusinessCalendar,
    *,
    now: datetime | None = None,
    policy: DeadlinePolicy = DEFAULT_POLICY,
) -> bool:
    """Rule 3: an online dossier received at or after :func:`received_late_from` (or, not yet
    received, still waiting ``now``). Counter and postal dossiers are received at the desk."""
    if Channel(str(channel).upper()) is not Channel.ONLINE or submitted_at is None:
        return False
    until = received_at if received_at is not None else now
    return until is not None and until >= received_late_from(submitted_at, calendar, policy)


# -- rule 4: due time ---------------------------------------------------------------------------


def add_months(dt: datetime, months: int) -> datetime:
    """Calendar months; a day the month lacks becomes its last day (31 Jan + 1 month = 28/29 Feb)."""
    m = dt.month - 1 + months
    year, month = dt.year + m // 12, m % 12 + 1
    return dt.replace(year=year, month=month, day=min(dt.day, _cal.monthrange(year, month)[1]))


def _land_on_working_day(
    landing: datetime, calendar: BusinessCalendar, policy: DeadlinePolicy, steps: list[str] | None
) -> datetime:
    """Civil Code Art. 148: a period ending on a day off ends at the close of the next working day."""
    close = calendar.close_of_day(landing.date())
    if close is None:
        due = calendar.close_of_next_working_day(landing.date())
        if steps is not None:
            why = calendar.why_not_working(landing.date())
            steps.append(
                f"lands on {fmt_dt(landing)}, not a working day ({why}): moved to the close of office"
            )
            steps.extend(f"  {s}" for s in skipped_days(calendar, landing.date(), due.date()))
        return due
    if policy.calendar_units_end_at_close or landing > close:
        return close
    return landing


def _same_day(
    receipt: datetime,
    limit: Limit,
    calendar: BusinessCalendar,
    policy: DeadlinePolicy,
    steps: list[str] | None,
) -> datetime:
    cutoff = limit.cutoff or policy.same_day_cutoff
    close = calendar.close_of_day(receipt.date())
    cut = receipt.replace(hour=cutoff.hour, minute=cutoff.minute, second=0, microsecond=0)
    if close is not None and receipt <= cut and receipt <= close:
        if steps is not None:
            steps.append(
                f"received at or before the {cutoff:%H:%M} cut-off on a working day: due at its close"
            )
        return close
    due = calendar.close_of_next_working_day(receipt.date())
    if steps is not None:
        why = "after the cut-off" if close is not None else "not on a working day"
        steps.append(f"received {why} ({cutoff:%H:%M}): due at the close of the next working day")
        steps.extend(skipped_days(calendar, receipt.date() + timedelta(days=1), due.date()))
    return due


def base_due(
    receipt: datetime,
    limit: Limit,
    calendar: BusinessCalendar,
    policy: DeadlinePolicy = DEFAULT_POLICY,
    steps: list[str] | None = None,
) -> datetime:
    """Receipt + limit on the calendar (rule 4), without pauses; ``receipt`` is the clock start."""
    unit = limit.unit
    if unit is LimitUnit.SAME_DAY:
        return _same_day(receipt, limit, calendar, policy, steps)
    if unit in (LimitUnit.WORKING_DAYS, LimitUnit.WORKING_HOURS):
        span = limit.value * (policy.working_day if unit is LimitUnit.WORKING_DAYS else timedelta(hours=1))
        due = calendar.add_working_time(receipt, span)
        if steps is not None:
            steps.append(f"limit {limit.describe()} = {span.total_seconds() / 3600:g} h of working time")
            steps.extend(skipped_days(calendar, receipt.date(), due.date()))
        return due
    landing = (
        receipt + timedelta(days=limit.value)
        if unit is LimitUnit.DAYS
        else add_months(receipt, int(limit.value))
    )
    if steps is not None:
        steps.append(f"limit {limit.describe()} (calendar): {fmt_dt(landing)}")
    return _land_on_working_day(landing, calendar, policy, steps)


def _spans(pauses: Iterable[PauseLike]) -> list[PauseSpan]:
    out: list[PauseSpan] = []
    for p in pauses:
        if isinstance(p, tuple):
            span = PauseSpan(p[0], p[1], p[2] if len(p) > 2 else "supplement")
        else:
            span = PauseSpan(p.start, p.end, p.reason)
        if span.end is not None and span.end < span.start:
            raise ValueError(
                f"pause ends ({span.end.isoformat()}) before it starts ({span.start.isoformat()})"
            )
        out.append(span)
    return out


def merge_pauses(pauses: Iterable[PauseLike]) -> list[PauseSpan]:
    """Sorted, overlapping pauses merged (two reasons at once stop the clock once)."""
    merged: list[PauseSpan] = []
    for p in sorted(_spans(pauses), key=lambda s: s.start):
        last = merged[-1] if merged else None
        if last is not None and (last.end is None or p.start <= last.end):
            end = None if last.end is None or p.end is None else max(last.end, p.end)
            reason = last.reason if p.reason in last.reason.split("+") else f"{last.reason}+{p.reason}"
            merged[-1] = PauseSpan(last.start, end, reason)
        else:
            merged.append(p)
    return merged


def compute_due(
    received_at: datetime,
    limit: Limit | ProcedureVersion,
    calendar: BusinessCalendar,
    pauses: Sequence[PauseLike] = (),
    *,
    channel: Channel | str = Channel.COUNTER,
    policy: DeadlinePolicy = DEFAULT_POLICY,
    now: datetime | None = None,
    complex_case: bool = False,
    explain: bool = True,
) -> DueComputation:
    """The legal due time of a dossier received at ``received_at`` (rules 3–5); see the module
    docstring for open pauses. ``limit`` may be a catalogue version (its complex-case limit with
    ``complex_case``)."""
    if isinstance(limit, ProcedureVersion):
        limit = limit.limit_for(complex_case=complex_case)
    steps: list[str] | None = [] if explain else None
    receipt = effective_receipt(received_at, channel, calendar, policy)
    if steps is not None:
        how = "online" if Channel(str(channel).upper()) is Channel.ONLINE else "at the counter"
        line = f"received {how} {fmt_dt(received_at)}"
        if receipt != calendar.local(received_at):
            line += f": the clock starts at {fmt_dt(receipt)} (policy)"
        steps.append(line)
    base = base_due(receipt, limit, calendar, policy, steps)
    due: datetime | None = base
    paused = timedelta(0)
    stopped = provisional = False
    for p in merge_pauses(pauses):
        if due is None:
            break
        if p.end is not None and p.end <= receipt:
            continue  # over before the clock started
        start = max(p.start, receipt)
        if start >= due:
            if steps is not None:
                steps.append(f"paused from {fmt_dt(start)} ({p.reason}), after the due time: no extension")
            continue
        end = p.end
        if end is None:
            stopped = True
            if now is None:
                if steps is not None:
                    steps.append(
                        f"paused since {fmt_dt(start)} ({p.reason}): due unknown until the clock restarts"
                    )
                due = None
                break
            end, provisional = max(now, start), True
        spent = calendar.working_time_between(start, end)
        due = calendar.add_working_time(due, spent)
        paused += spent
        if steps is not None:
            upto = f"now ({fmt_dt(end)})" if provisional else fmt_dt(end)
            steps.append(
                f"paused {fmt_dt(start)} – {upto} for {p.reason} "
                f"({fmt_working(spent, policy.working_day)}): due moves to {fmt_dt(due)}"
            )
    if steps is not None and due is not None:
        steps.append(f"due: {fmt_dt(due)}" + (" (provisional: the clock is stopped)" if provisional else ""))
    return DueComputation(
        received_at=received_at,
        receipt_at=receipt,
        limit=limit,
        base_due_at=base,
        due_at=due,
        paused=paused,
        clock_stopped=stopped,
        provisional=provisional,
        steps=tuple(steps or ()),
    )


def pausing_statuses(
    version: ProcedureVersion | None, policy: DeadlinePolicy = DEFAULT_POLICY
) -> frozenset[Status]:
    """Statuses that stop the clock for this version (rule 5)."""
    if version is None or version.pause_on is None:
        return policy.default_pause_on
    return version.pause_on


def step_due_times(
    receipt: datetime,
    version: ProcedureVersion,
    calendar: BusinessCalendar,
    policy: DeadlinePolicy = DEFAULT_POLICY,
) -> list[tuple[Step, datetime]]:
    """Inter-agency budget: each step's due time, the cumulative share of the limit from the
    receipt (pauses not included). Same-day and months limits are not split: every step gets the
    procedure's due time."""
    limit = version.limit
    total = base_due(receipt, limit, calendar, policy)
    out: list[tuple[Step, datetime]] = []
    share = 0.0
    for i, step in enumerate(version.steps):
        share += step.share
        if i == len(version.steps) - 1 or limit.unit in (LimitUnit.SAME_DAY, LimitUnit.MONTHS):
            out.append((step, total))
        elif limit.unit is LimitUnit.DAYS:
            landing = receipt + timedelta(days=limit.value * share)
            out.append((step, _land_on_working_day(landing, calendar, policy, None)))
        else:
            per = policy.working_day if limit.unit is LimitUnit.WORKING_DAYS else timedelta(hours=1)
            out.append((step, calendar.add_working_time(receipt, per * limit.value * share)))
    return out


# -- rule 7: outcome ----------------------------------------------------------------------------


def overdue_now(due_at: datetime | None, ended_at: datetime | None, now: datetime) -> bool:
    """Open and past due with the clock running (an unknown due time is never overdue)."""
    return ended_at is None and due_at is not None and now > due_at


def judge_outcome(
    due_at: datetime | None,
    ended_at: datetime | None,
    now: datetime,
    early_margin: timedelta = DEFAULT_POLICY.early_margin,
    calendar: BusinessCalendar | None = None,
) -> Outcome:
    """PENDING / ON_TIME / ENDED_EARLY / OVERDUE (rule 7). On time ⇔ end ≤ due. Early ⇔ ended at
    least ``early_margin`` before due: working time on ``calendar`` when given, else wall time.
    ``due_at`` None means the clock was stopped (an open pause started before the due time): an
    end then is on time, and an open dossier is pending."""
    if ended_at is None:
        return Outcome.OVERDUE if overdue_now(due_at, None, now) else Outcome.PENDING
    if due_at is None:
        return Outcome.ON_TIME
    if ended_at > due_at:
        return Outcome.OVERDUE
    ahead = calendar.working_time_between(ended_at, due_at) if calendar else due_at - ended_at
    return Outcome.ENDED_EARLY if early_margin > timedelta(0) and ahead >= early_margin else Outcome.ON_TIME


@lru_cache(maxsize=1 << 16)
def due_of(
    received_at: datetime,
    version: ProcedureVersion,
    calendar: BusinessCalendar,
    pauses: tuple[tuple[datetime, datetime | None, str], ...],
    channel: Channel,
    policy: DeadlinePolicy,
    complex_case: bool,
) -> DueComputation:
    """:func:`compute_due` without the explanation, remembered: a dossier's due time is asked
    again at every evaluation with the same receipt, limit, calendar and pauses. Only for the
    long-lived calendars of ``streams.domain.units`` (a calendar is remembered by identity; a
    throw-away variant would be kept alive here for nothing)."""
    return compute_due(
        received_at, version, calendar, pauses, channel=channel, policy=policy, complex_case=complex_case,
        explain=False,
    )  # fmt: skip


def tracking_due(due_at: datetime | None, extended_due_at: datetime | None) -> datetime | None:
    """Rule 6: the date a dossier is followed against (alerts, "near", "overdue now"): an apology
    letter's new date when there is one, else the legal due time."""
    return extended_due_at or due_at


def judged_due(
    due_at: datetime | None, extended_due_at: datetime | None, policy: DeadlinePolicy = DEFAULT_POLICY
) -> datetime | None:
    """Rule 6: the date lateness is judged against: the original one by default (policy)."""
    if policy.extension_judged_against is ExtensionJudgement.EXTENDED:
        return tracking_due(due_at, extended_due_at)
    return due_at


# Remembered: asked at every evaluation of an open dossier (calendars are long-lived, by identity).
@lru_cache(maxsize=1 << 16)
def near_deadline_from(
    due_at: datetime, calendar: BusinessCalendar, threshold: timedelta = DEFAULT_POLICY.near_deadline
) -> datetime:
    """Rule 9: the first instant at which at most ``threshold`` of working time is left before
    ``due_at``. The near-deadline state, and its alert, begin here. Outside office hours no working
    time passes, so the state begins at the close of office before the last ``threshold`` of
    working time: for a dossier due Monday 17:00 with one working day (8 h), Friday 17:00. The
    official told then still has the whole threshold of working time to act (all of Monday), and a
    count of "near deadline now" made on Saturday includes the dossier."""
    return calendar.add_working_time(due_at, -threshold, earliest=True)


def near_deadline(
    due_at: datetime | None,
    now: datetime,
    calendar: BusinessCalendar,
    threshold: timedelta = DEFAULT_POLICY.near_deadline,
) -> bool:
    """Rule 9: not yet due, and at or past :func:`near_deadline_from` (the caller checks that the
    dossier is open and its clock running)."""
    if due_at is None or now >= due_at:
        return False
    return now >= near_deadline_from(due_at, calendar, threshold)
