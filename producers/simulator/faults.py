"""How systems disagree: each fault decided, applied to one system's view or records, and recorded.

Every decision is ``rng.chance(seed, kind, dossier, system) < rate``: a fault kind has its own
draws, so setting one rate to 0 removes exactly those faults and changes nothing else. Details
(how late, which record, how many minutes) come from a stream of the same key. Each injected
fault is appended to the dossier's truth with the system, the kind and its specifics.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from producers.simulator import rng as rngs
from producers.simulator.city import City
from producers.simulator.config import SimulationConfig
from producers.simulator.legal import Legal
from producers.simulator.model import Dossier, SourceRecord
from producers.simulator.views import SystemView
from producers.simulator.vocab import OVERDUE_FLAG, Step, canonical, code_of
from streams.domain.calendar import DayKind, holiday_blocks


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


@dataclass(frozen=True)
class CalendarFaults:
    """Which special days each system's calendar lacks (decided once per run, per system and day)."""

    holidays: dict[str, frozenset[date]]
    makeup: dict[str, frozenset[date]]
    names: dict[date, str]

    def missing(self, system: str) -> tuple[frozenset[date], frozenset[date]]:
        return self.holidays.get(system, frozenset()), self.makeup.get(system, frozenset())


def calendar_faults(
    config: SimulationConfig, legal: Legal, systems: tuple[str, ...], first: date, last: date
) -> CalendarFaults:
    """Holidays (and swapped days off) and make-up Saturdays between ``first`` and ``last`` that
    each system's calendar lacks, at the rates ``calendar_missing_holiday`` (per holiday period,
    see ``holiday_blocks``) / ``calendar_missing_makeup_day`` (per make-up day)."""
    cal = legal.calendars.for_unit(None)
    names: dict[date, str] = {}
    off: list[date] = []
    makeup: list[date] = []
    for year in range(first.year, last.year + 1):
        for info in cal.special_days(year):
            if not first <= info.day <= last:
                continue
            names[info.day] = info.label or ""
            (makeup if info.kind is DayKind.MAKEUP else off).append(info.day)
    rates = config.faults
    # A holiday period is missing as a whole (a decree or a lunar date that never reached the
    # system), decided once per system and period (keyed by its first day).
    periods = holiday_blocks(off)
    return CalendarFaults(
        holidays={
            s: frozenset(
                d
                for period in periods
                if rngs.chance(config.seed, "calendar_missing_holiday", s, period[0])
                < rates.calendar_missing_holiday
                for d in period
            )
            for s in systems
        },
        makeup={
            s: frozenset(
                d
                for d in makeup
                if rngs.chance(config.seed, "calendar_missing_makeup_day", s, d)
                < rates.calendar_missing_makeup_day
            )
            for s in systems
        },
        names=names,
    )


def _hit(config: SimulationConfig, kind: str, d: Dossier, system: str) -> bool:
    rate: float = getattr(config.faults, kind)
    return rate > 0 and rngs.chance(config.seed, kind, d.index, system) < rate


def make_view(
    d: Dossier, system: str, config: SimulationConfig, legal: Legal, city: City, cals: CalendarFaults
) -> SystemView:
    """The system's view of the dossier, with the faults that shape it (clock, unit, pauses, dates)."""
    base = legal.calendar(d.unit_code)
    view = SystemView(
        system, d, legal, legal.variant(base, *cals.missing(system)), list(d.pauses), d.unit_code
    )
    seed, shape = config.seed, config.shape
    # One clock off per dossier at most: with every system's clock off, the real moments (and so
    # the legal due time) cannot be told to the second from the records, by dongbo or anyone.
    skewed = any(f["kind"] == "clock_skew" for f in d.faults)
    if not skewed and _hit(config, "clock_skew", d, system):
        r = rngs.stream(seed, "clock_skew", d.index, system)
        minutes = r.randint(shape.skew_min_minutes, max(shape.skew_min_minutes, shape.skew_max_minutes))
        minutes *= r.choice((-1, 1))
        view.skew = timedelta(minutes=minutes)
        d.faults.append({"kind": "clock_skew", "system": system, "minutes": minutes})
    predecessors = city.predecessors(d.unit_code) if d.unit_code in city.units else ()
    if predecessors and _hit(config, "unit_remap", d, system):
        old = rngs.stream(seed, "unit_remap", d.index, system).choice(predecessors)
        view.unit_code = old
        d.faults.append({"kind": "unit_remap", "system": system, "old_code": old, "new_code": d.unit_code})
    # Only a pause that has ended moves a due date: an unrecorded one leaves the date too early.
    supplements = [p for p in d.pauses if p.reason == "supplement" and p.end is not None]
    if supplements and _hit(config, "missed_pause", d, system):
        missed = rngs.stream(seed, "missed_pause", d.index, system).choice(supplements)
        view.pauses = [p for p in view.pauses if p is not missed]
        d.faults.append({"kind": "missed_pause", "system": system, "pause": missed.to_json()})
    # Moved by hand at one of its updates after the receipt; not at an apology letter, whose date
    # is printed on the letter and recorded as such by every system.
    after = [
        e for e in d.events
        if d.received_at is not None and e.at >= d.received_at and code_of(system, e.step) is not None
        and e.step is not Step.EXTENSION
    ]  # fmt: skip
    if after and _hit(config, "appointment_changed", d, system):
        r = rngs.stream(seed, "appointment_changed", d.index, system)
        at = r.choice(after).at
        days = r.randint(1, max(1, shape.appointment_shift_max_days)) * r.choice((-1, 1))
        view.appointment_shift = (at, days * legal.policy.working_day)
        d.faults.append(
            {
                "kind": "appointment_changed",
                "system": system,
                "at": at.isoformat(),
                "shift_working_days": days,
            }
        )
    return view


def note_due_faults(view: SystemView, d: Dossier, at: datetime) -> None:
    """What the calendar and pause faults did to the system's due time, now that it is known.

    Which faults caused the system's date: with one fault, that one. With a wrong calendar and a
    missed pause: the calendar when it gives the date alone (it is the system's, there for every
    dossier), else the pause when it does, else both. An apology letter's date shown at the end
    is a decision, not a computation: no calendar or pause fault is its cause. A fault that is no
    cause keeps ``effect: false`` (pauses) or is not named (days).

    ``at``: when the system last showed its date; everything is judged as of then (a pause that
    ended after its last update could not be in its date, missed or not)."""
    if d.received_at is None:
        return
    reported = view.computed_due(at)
    legal_cal = view.legal.calendar(d.unit_code)
    legal = replace(view, calendar=legal_cal, pauses=list(d.pauses), cache={}).computed_due(at)
    missed = [f for f in d.faults if f["system"] == view.system and f["kind"] == "missed_pause"]
    wrong_calendar = view.calendar is not legal_cal
    calendar_alone = replace(view, pauses=list(d.pauses), cache={}).computed_due(at)
    pause_alone = replace(view, calendar=legal_cal, cache={}).computed_due(at)
    letter_shown = any(e.at <= at for e in view.letters)
    if reported == legal or letter_shown:
        calendar_cause = pause_cause = False
    elif not missed or not wrong_calendar:
        calendar_cause, pause_cause = wrong_calendar, bool(missed)
    elif calendar_alone == reported:
        calendar_cause, pause_cause = True, False
    elif pause_alone == reported:
        calendar_cause, pause_cause = False, True
    else:
        calendar_cause = pause_cause = True
    for fault in missed:
        fault.update(legal_due_at=_iso(legal), source_due_at=_iso(reported), effect=pause_cause)
    for fault in d.faults:
        if fault["system"] == view.system and fault["kind"] == "appointment_changed":
            moved_at = datetime.fromisoformat(fault["at"])
            unshifted = replace(view, appointment_shift=None, cache={})
            fault.update(
                previous_due_at=_iso(unshifted.due_at(moved_at)), new_due_at=_iso(view.due_at(moved_at))
            )
    if not calendar_cause:
        return  # the days it lacks did not move this dossier's date
    lo = min(x for x in (d.received_at, legal, reported) if x is not None).date()
    hi = max(x for x in (d.received_at, legal, reported) if x is not None).date()
    holidays, makeup = view.calendar.drop_holidays, view.calendar.drop_makeup_days
    for day in sorted(holidays | makeup):
        # Named only where the system's idea of the day differs (a holiday on a Sunday does not).
        if lo <= day <= hi and view.calendar.is_working_day(day) != legal_cal.is_working_day(day):
            kind = "calendar_missing_holiday" if day in holidays else "calendar_missing_makeup_day"
            d.faults.append(
                {
                    "kind": kind,
                    "system": view.system,
                    "day": day.isoformat(),
                    "name": legal_cal.day_info(day).label,
                    "legal_due_at": _iso(legal),
                    "source_due_at": _iso(reported),
                }
            )


def _status(rec: SourceRecord) -> str:
    return canonical(rec.system, rec.code).value


def disturb(recs: list[SourceRecord], d: Dossier, config: SimulationConfig) -> list[SourceRecord]:
    """The records as they leave the system: some lost, late, out of order or sent twice."""
    if not recs:
        return recs
    system, seed, shape = recs[0].system, config.seed, config.shape
    out = list(recs)
    if _hit(config, "lost_sync", d, system):
        lost = rngs.stream(seed, "lost_sync", d.index, system).choice(out)
        out.remove(lost)
        d.faults.append(
            {"kind": "lost_sync", "system": system, "seq": lost.seq, "status": _status(lost),
             "source_status": str(lost.code), "at": lost.event.at.isoformat()}
        )  # fmt: skip
    if out and _hit(config, "sync_lag", d, system):
        r = rngs.stream(seed, "sync_lag", d.index, system)
        k = r.randrange(len(out))
        delay = timedelta(minutes=rngs.log_uniform(r, shape.sync_lag_min_minutes, shape.sync_lag_max_minutes))
        delay = timedelta(seconds=round(delay.total_seconds()))
        out[k:] = [replace(rec, deliver_at=rec.deliver_at + delay) for rec in out[k:]]
        d.faults.append(
            {"kind": "sync_lag", "system": system, "from_seq": out[k].seq, "status": _status(out[k]),
             "records": len(out) - k, "delay_minutes": round(delay.total_seconds() / 60, 1)}
        )  # fmt: skip
    if len(out) >= 2 and _hit(config, "reorder", d, system):
        r = rngs.stream(seed, "reorder", d.index, system)
        j = r.randrange(len(out) - 1)
        first, second = out[j], out[j + 1]
        late = second.deliver_at + timedelta(seconds=r.uniform(1.0, max(1.0, shape.reorder_max_gap_seconds)))
        out[j] = replace(first, deliver_at=late)
        d.faults.append(
            {"kind": "reorder", "system": system, "seq": first.seq, "overtaken_by_seq": second.seq,
             "statuses": [_status(first), _status(second)]}
        )  # fmt: skip
    if out and _hit(config, "duplicate", d, system):
        r = rngs.stream(seed, "duplicate", d.index, system)
        rec = r.choice(out)
        after = r.uniform(1.0, max(1.0, shape.duplicate_max_delay_seconds))
        out.append(replace(rec, deliver_at=rec.deliver_at + timedelta(seconds=after), resend=True))
        d.faults.append(
            {"kind": "duplicate", "system": system, "seq": rec.seq, "status": _status(rec),
             "resent_after_seconds": round(after, 1)}
        )  # fmt: skip
    return out


def summarise(recs: list[SourceRecord], d: Dossier, view: SystemView) -> None:
    """What the system has shown dongbo: its records captured by the end of the run (the caller
    leaves out those still in flight), in its own order, as the merge reads them."""
    kept = sorted((r for r in recs if not r.resend), key=lambda r: r.seq)
    if not kept:
        return
    last = kept[-1]
    due = next((r.due_at for r in reversed(kept) if r.due_at is not None), None)
    overdue = next((r.overdue for r in reversed(kept) if r.overdue is not None), None)
    d.source_status[view.system] = _status(last)
    d.source_due_at[view.system] = due
    if view.system in OVERDUE_FLAG:
        d.source_overdue[view.system] = overdue
