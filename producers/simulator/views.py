"""What one system knows of one dossier: its appointment dates, overdue flags and records.

A system computes the due time itself, on its own calendar (the legal one unless its calendar is
faulty), with the pauses it recorded (all of them unless it missed one), and reports it on every
record, with its overdue judgement at that moment. The records are the true steps the system
words (``vocab``), each sent after the system's normal lag, in the system's own order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from producers.simulator.config import LagConfig
from producers.simulator.legal import Legal
from producers.simulator.model import Dossier, SimPause, SourceRecord, TrueEvent
from producers.simulator.vocab import DUE_CHANGING, OVERDUE_FLAG, Step, code_of
from streams.domain.calendar import BusinessCalendar
from streams.domain.deadlines import PauseSpan
from streams.domain.policy import ExtensionJudgement

FIFO_GAP = timedelta(milliseconds=10)  # a system sends its records in order, one after another


@dataclass
class SystemView:
    system: str
    dossier: Dossier
    legal: Legal
    calendar: BusinessCalendar
    pauses: list[SimPause]  # the pauses this system recorded
    unit_code: str
    skew: timedelta = timedelta(0)
    appointment_shift: tuple[datetime, timedelta] | None = None  # (from when, working time added)
    cache: dict[int, datetime | None] = field(default_factory=dict, repr=False, compare=False)
    letters: list[TrueEvent] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Apology letters: each sets a new appointment date, from the moment it is issued.
        self.letters = [e for e in self.dossier.events if e.step is Step.EXTENSION and e.new_due is not None]

    def computed_due(self, t: datetime) -> datetime | None:
        """The due time this system computes with the pauses it knows closed by ``t``."""
        d = self.dossier
        if d.received_at is None or d.version is None or t < d.received_at:
            return None
        closed = [p for p in self.pauses if p.end is not None and p.end <= t]
        key = len(closed)  # pauses follow one another, so the closed ones are always a prefix
        if key not in self.cache:
            spans = [PauseSpan(p.start, p.end, p.reason) for p in closed]
            self.cache[key] = self.legal.due(
                d.received_at, d.version, self.calendar, spans, d.channel, d.complex_case
            )
        return self.cache[key]

    def _shifted(self, due: datetime | None, t: datetime) -> datetime | None:
        if due is None or self.appointment_shift is None or t < self.appointment_shift[0]:
            return due
        return self.calendar.add_working_time(due, self.appointment_shift[1]).replace(microsecond=0)

    def due_at(self, t: datetime) -> datetime | None:
        """The appointment date the system shows at ``t`` (an apology letter's date once issued)."""
        letter = next((e.new_due for e in reversed(self.letters) if e.at <= t), None)
        due = letter if letter is not None else self.computed_due(t)
        return self._shifted(due, t)

    def judged_due_at(self, t: datetime) -> datetime | None:
        if self.legal.policy.extension_judged_against is ExtensionJudgement.EXTENDED:
            return self.due_at(t)
        return self._shifted(self.computed_due(t), t)

    def overdue_at(self, t: datetime) -> bool | None:
        """The system's own judgement at ``t``: ended late, or open past its due with the clock running."""
        if self.system not in OVERDUE_FLAG:
            return None
        ended = self.dossier.ended_at
        if ended is not None and ended <= t:
            due = self.judged_due_at(ended)
            return None if due is None else ended > due
        for p in self.pauses:
            if p.start <= t and (p.end is None or t < p.end):  # the clock is stopped: judged at the stop
                due = self.judged_due_at(p.start)
                return None if due is None else p.start > due
        due = self.judged_due_at(t)
        return None if due is None else t > due


def records(view: SystemView, lags: LagConfig, r: random.Random) -> list[SourceRecord]:
    """The system's records of the dossier's true steps, before faults, in the system's order."""
    out: list[SourceRecord] = []
    last_code: str | int | None = None
    lo, hi = lags.bounds(view.system)
    sent = None
    for e in view.dossier.events:
        code = code_of(view.system, e.step)
        if code is None:
            continue
        # The one-stop system reports every workflow step; the others, changes of their status or
        # of the appointment date.
        if code == last_code and view.system != "onestop" and e.step not in DUE_CHANGING:
            continue
        last_code = code
        deliver = e.at + timedelta(seconds=r.uniform(lo, hi))
        if sent is not None and deliver <= sent:
            deliver = sent + FIFO_GAP
        sent = deliver
        out.append(
            SourceRecord(
                system=view.system,
                seq=len(out) + 1,
                event=e,
                code=code,
                stamp=e.at + view.skew,
                recorded_at=(
                    e.at + view.skew + timedelta(seconds=r.uniform(0, lags.record_write_max_s))
                ).replace(microsecond=0),
                deliver_at=deliver,
                due_at=view.due_at(e.at),
                overdue=view.overdue_at(e.at),
                unit_code=view.unit_code,
            )
        )
    return out
