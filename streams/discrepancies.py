"""Discrepancies: where a source's due date or overdue flag differs from the legal one, and why.

Pure. The reason is found by re-computing the legal due time under each known way a system goes
wrong, and keeping the ones that reproduce the source's date exactly: a calendar missing a holiday
or a make-up working Saturday, a supplement pause not recorded, an appointment date moved in that
system only. What no hypothesis explains is still reported, with the difference in working time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from itertools import chain, combinations

from streams.domain.calendar import BusinessCalendar, DayKind, holiday_blocks
from streams.domain.catalogue import ProcedureVersion
from streams.domain.deadlines import compute_due
from streams.domain.explain import fmt_dt, fmt_span, fmt_working
from streams.domain.policy import DeadlinePolicy
from streams.model import Channel
from streams.state import Discrepancy, Pause, SourceView

# Dates are compared to the second (every source writes seconds): a source that missed a pause of
# 36 seconds shows a date 36 seconds early, and that can decide an on-time judgement.
TOLERANCE = timedelta(seconds=1)
Reason = tuple[str, str]  # (reason, detail)
CalendarOption = tuple[BusinessCalendar, list[Reason]]  # a calendar and the reasons naming its faults
PauseOption = tuple[tuple[Pause, ...], list[Reason]]  # the pauses counted, and the missed ones named
Hypothesis = tuple[CalendarOption, PauseOption]
Computed = tuple[CalendarOption, PauseOption, datetime | None]  # a hypothesis and the date it gives
MAX_SPECIAL_DAYS = 12  # hypotheses per dossier stay bounded
SUBSETS_UP_TO = 7  # every set of up to this many holiday periods is a hypothesis (2^7 calendars)


@dataclass(frozen=True)
class DueContext:
    version: ProcedureVersion
    calendar: BusinessCalendar
    received_at: datetime
    channel: Channel
    pauses: tuple[Pause, ...]
    policy: DeadlinePolicy
    complex_case: bool = False


def _due(ctx: DueContext, calendar: BusinessCalendar, pauses: tuple[Pause, ...]) -> datetime | None:
    return compute_due(
        ctx.received_at,
        ctx.version,
        calendar,
        [(p.start, p.end, p.reason) for p in pauses if p.end is not None],
        channel=ctx.channel,
        policy=ctx.policy,
        complex_case=ctx.complex_case,
        explain=False,
    ).due_at


def _close(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= TOLERANCE


def _special_days(cal: BusinessCalendar, start: date, end: date) -> list[tuple[date, DayKind, str]]:
    """Special days between ``start`` and ``end`` that a calendar lacking them would count
    differently (a holiday on a Sunday is a day off either way)."""
    out: list[tuple[date, DayKind, str]] = []
    for info in cal.days(start, end):
        off = info.kind in (DayKind.HOLIDAY, DayKind.SWAPPED_OFF)
        if info.kind is DayKind.MAKEUP or (off and _lacking(cal, info.day).is_working_day(info.day)):
            out.append((info.day, info.kind, info.label or ""))
    return out[:MAX_SPECIAL_DAYS]


_VARIANTS: dict[tuple[int, frozenset[date], frozenset[date]], BusinessCalendar] = {}


def _variant(cal: BusinessCalendar, holidays: frozenset[date], makeups: frozenset[date]) -> BusinessCalendar:
    """Faulty variants are cached: building one costs milliseconds (its year tables)."""
    key = (id(cal), holidays, makeups)
    found = _VARIANTS.get(key)
    if found is None:
        if len(_VARIANTS) > 512:
            _VARIANTS.clear()
        found = _VARIANTS[key] = cal.variant(drop_holidays=holidays, drop_makeup_days=makeups)
    return found


def _lacking(cal: BusinessCalendar, holiday: date) -> BusinessCalendar:
    return _variant(cal, frozenset({holiday}), frozenset())


def _day(d: date) -> str:
    return d.strftime("%a %d/%m/%Y")


def calendar_hypotheses(
    cal: BusinessCalendar, lo: date, hi: date
) -> list[tuple[BusinessCalendar, list[tuple[str, str]]]]:
    """The legal calendar, then each way a system's calendar may be wrong between ``lo`` and ``hi``,
    with the reasons that name it."""
    calendar_options: list[CalendarOption] = [(cal, [])]
    special = _special_days(cal, lo, hi)
    reason_of: dict[date, tuple[str, str]] = {}
    for day, kind, label in special:
        if kind is DayKind.MAKEUP:
            reason_of[day] = (
                "calendar_makeup_day",
                f"the source treated {_day(day)} as a day off, but it was a make-up working day ({label})",
            )
        else:
            reason_of[day] = (
                "calendar_holiday",
                f"the source treated {_day(day)} ({label}) as a working day",
            )
    # A calendar is wrong because an update never reached it: the year's holiday and swap table
    # (one decree), a lunar date, a holiday period; not one day in the middle of Tết. So the
    # hypotheses are whole periods: the whole table first, then every holiday, every make-up day,
    # each period alone, and then every set of periods (fewest first). Where several reproduce the
    # date (a missing holiday and a missing make-up day cancel out), the first is kept.
    holidays = tuple(d for d, k, _ in special if k is not DayKind.MAKEUP)
    makeups = tuple(d for d, k, _ in special if k is DayKind.MAKEUP)
    blocks = holiday_blocks(holidays) + [(d,) for d in makeups]
    groups: list[tuple[date, ...]] = [g for g in (holidays + makeups, holidays, makeups) if g]
    groups += blocks
    if len(blocks) <= SUBSETS_UP_TO:
        for size in range(2, len(blocks)):
            groups += [tuple(d for b in chosen for d in b) for chosen in combinations(blocks, size)]
    for group in dict.fromkeys(groups):
        variant = _variant(
            cal, frozenset(d for d in group if d in holidays), frozenset(d for d in group if d in makeups)
        )
        calendar_options.append((variant, [reason_of[d] for d in group]))
    return calendar_options


def explain_due(
    ctx: DueContext,
    source_due: datetime,
    legal_due: datetime,
    reports: Sequence[tuple[datetime, datetime]] = (),
    letter: datetime | None = None,
) -> list[tuple[str, str]]:
    """(reason, detail) pairs that together reproduce the source's due date; [] when none do.

    ``letter``: an apology letter's date, when one is tracked (``legal_due`` is then that date).

    ``reports``: the dates the source showed before, (when, date). Where several hypotheses give
    its last date, the first that also gives each earlier date from the pauses closed by then is
    kept: the source's own history separates a calendar fault from a missed pause."""
    cal = ctx.calendar
    # Only days between the receipt (or an earlier source date) and the later date move the date.
    lo = min(ctx.received_at, source_due).date()
    calendar_options = calendar_hypotheses(cal, lo, max(source_due, legal_due).date())
    pause_options: list[PauseOption] = [(ctx.pauses, [])]
    for p in ctx.pauses:
        if p.end is None:
            continue
        kept = tuple(q for q in ctx.pauses if q is not p)
        why = ("missed_pause", f"the source did not pause the clock for the {p.reason} of "
               f"{fmt_span(p.start, p.end)}")  # fmt: skip
        pause_options.append((kept, [why]))
    # Hypotheses in order, each computed only when reached (a wide window holds many calendars):
    # a wrong calendar is a property of the system, there for every dossier; a missed pause is one
    # slip. So: the calendar alone when it gives the date, else a missed pause alone, else the two
    # together. Within that, the first hypothesis the source's own earlier dates agree with.
    legal_cal, wrong_cals = calendar_options[0], calendar_options[1:]
    legal_pauses, missed = pause_options[0], pause_options[1:]
    tiers = [
        [(c, lp) for c in wrong_cals for lp in [legal_pauses]],
        [(legal_cal, m) for m in missed],
        [(c, m) for m in missed for c in wrong_cals],
    ]
    cache: dict[tuple[int, int], datetime | None] = {}

    def due_of(
        c: tuple[BusinessCalendar, list[Reason]], ps: tuple[tuple[Pause, ...], list[Reason]]
    ) -> datetime | None:
        key = (id(c[0]), id(ps[0]))
        if key not in cache:
            cache[key] = _due(ctx, c[0], ps[0])
        return cache[key]

    def first_fitting(tier: list[Hypothesis]) -> Hypothesis | None:
        return next((h for h in tier if _close(due_of(*h), source_due) and _fits_history(
            ctx, h[0][0], h[1][0], reports)), None)  # fmt: skip

    if letter is not None and _close(due_of(legal_cal, legal_pauses), source_due):
        # The computed date, not the letter's: the source set its appointment back by hand.
        detail = (
            f"the source shows {fmt_dt(source_due)}, the date computed before the apology letter, not"
            f" the letter's {fmt_dt(letter)}: a change no other system recorded"
        )
        return [("appointment_changed", detail)]
    for n, tier in enumerate(tiers):
        found = [h for h in tier if _close(due_of(*h), source_due)]
        if not found:
            continue
        best = next((h for h in found if _fits_history(ctx, h[0][0], h[1][0], reports)), None)
        if best is None and not any(first_fitting(t) for t in tiers[n + 1 :]):
            # Its last date is reproduced, but not the dates it showed before: a date that jumped
            # with no pause closing is an appointment moved by hand, when it moved by whole days.
            computed = _computed(tiers, (legal_cal, legal_pauses), due_of)
            moved = _moved_appointment(ctx, cal, legal_due, computed, source_due)
            if moved:
                return moved
        chosen = best or found[0]
        return [*chosen[0][1], *chosen[1][1]]
    return _moved_appointment(
        ctx, cal, legal_due, _computed(tiers, (legal_cal, legal_pauses), due_of), source_due
    )


def _computed(
    tiers: list[list[Hypothesis]],
    legal: Hypothesis,
    due_of: Callable[[CalendarOption, PauseOption], datetime | None],
) -> Iterator[Computed]:
    for c, ps in [legal, *(h for tier in tiers for h in tier)]:
        yield c, ps, due_of(c, ps)


def _moved_appointment(
    ctx: DueContext,
    cal: BusinessCalendar,
    legal_due: datetime,
    dues: Iterable[Computed],
    source_due: datetime,
) -> list[tuple[str, str]]:
    # An appointment date moved by whole working days in that system alone, counted on the
    # system's own (possibly wrong) calendar from the date it had computed.
    # An apology letter's date (``legal_due`` is then the letter's) is a base of its own.
    legal: Computed = ((cal, []), (ctx.pauses, []), legal_due)
    for (c, cw), (_, pw), due in chain([legal], dues):  # computed one by one, as reached
        if due is None:
            continue
        moved = c.working_time_between(due, source_due)
        days = moved / ctx.policy.working_day
        if moved and abs(days - round(days)) < 1e-6:
            # The moved date is what the source shows: the change is the cause. How the source had
            # computed the date before (its calendar, its pauses) is context, said in the detail.
            base = "; ".join(detail for _, detail in [*cw, *pw])
            why = ("appointment_changed", f"the source moved its appointment date by {round(days):+d} "
                   f"working day(s), a change no other system recorded"
                   + (f" (from the date it had computed: {base})" if base else ""))  # fmt: skip
            return [why]
    return []


def _fits_history(
    ctx: DueContext,
    cal: BusinessCalendar,
    pauses: tuple[Pause, ...],
    reports: Sequence[tuple[datetime, datetime]],
) -> bool:
    seen: dict[int, datetime | None] = {}
    for when, shown in reports:
        closed = tuple(p for p in pauses if p.end is not None and p.end <= when)
        if len(closed) not in seen:  # pauses follow one another: the closed ones are a prefix
            seen[len(closed)] = _due(ctx, cal, closed)
        if not _close(seen[len(closed)], shown):
            return False
    return True


def due_discrepancies(
    ctx: DueContext | None,
    sources: dict[str, SourceView],
    legal_due: datetime | None,
    reports: dict[str, list[tuple[datetime, datetime]]] | None = None,
    letter: datetime | None = None,
    letter_at: datetime | None = None,
) -> list[Discrepancy]:
    """``legal_due``: the date tracked (``letter``'s, when an apology letter set one, issued at
    ``letter_at``). ``reports``: per source, the dates it showed over time (see ``explain_due``)."""
    if ctx is None or legal_due is None:
        return []
    out = []
    for name, view in sorted(sources.items()):
        if view.due_at is None or _close(view.due_at, legal_due):
            continue
        # Judged as the source could know it: a pause that ended after its last update is not in
        # its date yet, nor an apology letter issued after it (the update that would say so has
        # not come yet, or was lost).
        known = tuple(p for p in ctx.pauses if p.end is not None and p.end <= view.last_occurred_at)
        its_letter = letter if letter_at is None or letter_at <= view.last_occurred_at else None
        seen_ctx, base = ctx, legal_due
        if len(known) < len(ctx.pauses) or (its_letter is None and letter is not None):
            seen_ctx = replace(ctx, pauses=known)
            if its_letter is None:
                base = _due(seen_ctx, ctx.calendar, known) or legal_due
                if _close(view.due_at, base):
                    continue
        reasons = explain_due(seen_ctx, view.due_at, base, (reports or {}).get(name, ()), its_letter)
        src, leg = view.due_at.isoformat(), legal_due.isoformat()
        if not reasons:
            diff = ctx.calendar.working_time_between(legal_due, view.due_at)
            sign = "later" if diff > timedelta(0) else "earlier"
            detail = (
                f"the source's date is {fmt_working(abs(diff))} of working time {sign} than the legal"
                f" {fmt_dt(legal_due)}; no known cause reproduces it"
            )
            reasons = [("unexplained", detail)]
        for reason, detail in reasons:
            out.append(Discrepancy(name, "due_at", reason, detail, src, leg))
    return out


def legal_overdue_at(
    t: datetime, due: datetime | None, ended_at: datetime | None, pauses: tuple[Pause, ...]
) -> bool | None:
    """The legal overdue judgement as it stood at ``t`` (what a source's flag at ``t`` should say)."""
    if due is None:
        return None
    if ended_at is not None and ended_at <= t:
        return ended_at > due
    for p in pauses:
        if p.start <= t and (p.end is None or t < p.end):
            return p.start > due  # the clock is stopped: judged at the stop
    return t > due


def overdue_discrepancies(
    sources: dict[str, SourceView],
    legal_overdue_at: dict[str, bool | None],
    due_explained: set[str],
    ended_in: dict[str, bool],
) -> list[Discrepancy]:
    """``legal_overdue_at``: the legal judgement at the time of each source's last report."""
    out = []
    for name, view in sorted(sources.items()):
        legal = legal_overdue_at.get(name)
        if view.overdue is None or legal is None or view.overdue == legal:
            continue
        if name in due_explained:
            reason, detail = "due_date", "follows from its different due date (see the due_at discrepancy)"
        elif view.overdue and not ended_in.get(name, True):
            reason, detail = ("status_not_synced", "the source still counts the dossier as open: the end of "
                              "processing was never synced to it")  # fmt: skip
        else:
            reason, detail = "unexplained", "the source's overdue flag differs from the legal judgement"
        out.append(
            Discrepancy(name, "overdue", reason, detail, str(view.overdue).lower(), str(legal).lower())
        )
    return out
