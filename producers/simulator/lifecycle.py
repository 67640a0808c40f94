"""A dossier's true lifecycle: what really happened, and when, judged by ``streams.domain``.

The work on a dossier is laid out in *active* working time (office hours of working days while
the dossier is not waiting for the citizen), as fractions of the time the law allows: an early
dossier is finished at a small fraction, a late one past 1. Waits for the citizen (supplement,
financial obligation) then stretch it on the wall clock. That keeps every step in office hours
and makes lateness a decision drawn from the settings, while the *judgement* of each dossier
(due time, pauses, outcome) is the domain's, computed afterwards, never assumed.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from producers.simulator import rng as rngs
from producers.simulator.config import SimulationConfig
from producers.simulator.legal import Legal
from producers.simulator.model import Document, Dossier, SimPause, TrueEvent
from producers.simulator.vocab import STATUS, Step
from producers.simulator.workload import PROCEDURE_MIX, Arrival, ProcedureMix, applicant, contact
from streams.domain.calendar import BusinessCalendar
from streams.domain.deadlines import (
    PauseSpan,
    effective_receipt,
    judge_outcome,
    pausing_statuses,
    received_late,
)
from streams.domain.policy import ExtensionJudgement
from streams.model import ENDING, Channel, Status

SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
WAITS = {Step.SUPPLEMENT_REQUEST: Step.SUPPLEMENT_RECEIVED, Step.FINANCIAL_OBLIGATION: Step.FINANCIAL_DONE}
WAIT_REASON = {Step.SUPPLEMENT_REQUEST: "supplement", Step.FINANCIAL_OBLIGATION: "financial_obligation"}
WAIT_STATUS = {
    Step.SUPPLEMENT_REQUEST: Status.SUPPLEMENT_REQUESTED,
    Step.FINANCIAL_OBLIGATION: Status.FINANCIAL_OBLIGATION,
}


def _sec(dt: datetime) -> datetime:
    """Sources keep whole seconds (the portal's yyyyMMddHHmmss): so does the truth."""
    return dt.replace(microsecond=0)


@dataclass(frozen=True)
class _Planned:
    active: timedelta  # working time of work on the dossier before this step
    step: Step
    transfer_to: str | None = None


def live(a: Arrival, config: SimulationConfig, legal: Legal, sim_end: datetime) -> Dossier:
    """The dossier of arrival ``a``, with everything that happened to it before ``sim_end``."""
    r = rngs.stream(config.seed, "lifecycle", a.index)
    mix = PROCEDURE_MIX[a.procedure_code]
    cal = legal.calendar(a.unit_code)
    ident, name = applicant(config.seed, a.applicant)
    phone, address = contact(config.seed, a.applicant)
    proc = legal.catalogue.get(a.procedure_code)
    d = Dossier(
        index=a.index,
        code=a.code,
        procedure_code=a.procedure_code,
        procedure_version="",
        procedure_name=proc.name,
        field_code=field_code(proc.versions[-1].sector),
        unit_code=a.unit_code,
        channel=a.channel,
        systems=("onestop", "portal", mix.system) if mix.system else ("onestop", "portal"),
        applicant_id=ident,
        applicant_name=name,
        submitted_at=a.submitted_at,
        civil_kind=mix.civil_kind,
        applicant_phone=phone,
        applicant_address=address,
    )
    _attributes(d, mix, config)
    events = _timeline(d, mix, config, legal, cal, r)
    _judge(d, [e for e in events if e.at <= sim_end], legal, cal, sim_end)
    return d


def field_code(sector: str | None) -> str | None:
    """A field (lĩnh vực) code from the catalogue's sector name: "Hộ tịch" → "HO_TICH"."""
    if not sector:
        return None
    plain = unicodedata.normalize("NFD", sector.replace("đ", "d").replace("Đ", "D"))
    ascii_only = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return "_".join(re.findall(r"[A-Za-z0-9]+", ascii_only)).upper() or None


def _attributes(d: Dossier, mix: ProcedureMix, config: SimulationConfig) -> None:
    """Documents, payment and result files (Decision 766 indicators), from a stream of their own."""
    w = config.workload
    r = rngs.stream(config.seed, "attributes", d.index)
    d.documents = tuple(
        Document(
            f"GT.{d.procedure_code}.{k + 1:02d}", r.random() < w.digitised_share, r.random() < w.reused_share
        )
        for k in range(max(1, mix.documents + r.randint(-1, 1)))
    )
    if mix.fee:
        paid = d.channel is Channel.ONLINE and r.random() < w.paid_online_share
        d.paid_online = (1 if r.random() < 0.6 else 2) if paid else 0
    d.result_files = 1 if r.random() < w.electronic_result_share else 0


def _timeline(
    d: Dossier,
    mix: ProcedureMix,
    config: SimulationConfig,
    legal: Legal,
    cal: BusinessCalendar,
    r: random.Random,
) -> list[TrueEvent]:
    L = config.lifecycle
    # Every decision is drawn first, in a fixed order: a rate changes only the decisions it governs.
    (u_late, u_reject, u_complex, u_class, u_sup, u_sup2, u_abandon, u_fin, u_transfer, u_withdraw,
     u_stop) = (r.random() for _ in range(11))  # fmt: skip
    events: list[TrueEvent] = []
    online = d.channel is Channel.ONLINE
    if online:
        events.append(TrueEvent(Step.SUBMITTED, d.submitted_at))
        late = u_late < L.received_late
        hours = (
            r.uniform(8.25, 20.0)
            if late
            else min(7.5, r.expovariate(1 / max(L.online_reception_hours, 0.01)))
        )
        received = _sec(cal.add_working_time(cal.next_opening(d.submitted_at), hours * HOUR))
    else:
        received = d.submitted_at
    if d.channel is not Channel.COUNTER and u_reject < L.reject_at_reception:
        events.append(TrueEvent(Step.REJECTION, received))  # refused: never received
        return events
    d.received_at = received
    events.append(TrueEvent(Step.RECEPTION, received))

    version = legal.catalogue.lookup(d.procedure_code, received)
    d.version = version
    d.procedure_version = version.valid_from.isoformat()
    d.complex_case = version.complex_limit is not None and u_complex < L.complex_case
    due0 = legal.due(received, version, cal, (), d.channel, d.complex_case)
    assert due0 is not None
    start = _clock_start(d, legal, cal)
    allowed = max(cal.working_time_between(start, due0), 15 * 60 * SECOND)

    # How the dossier ends, relative to the time allowed.
    x = u_class
    extension_days = 0
    if x < L.extension:
        extension_days = r.randint(1, max(1, L.extension_max_days))
        work = allowed + extension_days * legal.policy.working_day * r.uniform(0.15, 0.9)
    elif x < L.extension + L.late:
        work = allowed * r.uniform(1.03, 1.5) + 10 * 60 * SECOND
    elif x < L.extension + L.late + L.early:
        work = allowed * r.uniform(0.1, 0.5)
    else:
        work = allowed * r.uniform(0.55, 0.97)
    work = max(work, 10 * 60 * SECOND)

    plan = [
        _Planned(work * r.uniform(0.01, 0.05), Step.ASSIGNMENT),
        _Planned(work * r.uniform(0.06, 0.15), Step.PROCESSING),
    ]
    if u_sup < L.supplement:
        plan.append(_Planned(work * r.uniform(0.16, 0.3), Step.SUPPLEMENT_REQUEST))
        if u_sup2 < L.second_supplement:
            plan.append(_Planned(work * r.uniform(0.31, 0.44), Step.SUPPLEMENT_REQUEST))
    pays = mix.financial and u_fin < L.financial
    if mix.transfer and (pays or u_transfer < L.transfer):
        out_at = work * r.uniform(0.46, 0.52)
        plan.append(_Planned(out_at, Step.TRANSFER_OUT, mix.transfer))
        if pays:  # the tax office sets the obligation; the citizen pays; the file comes back
            plan.append(_Planned(out_at + work * r.uniform(0.02, 0.05), Step.FINANCIAL_OBLIGATION))
        plan.append(_Planned(work * r.uniform(0.6, 0.7), Step.TRANSFER_BACK))
    elif pays:
        plan.append(_Planned(work * r.uniform(0.5, 0.6), Step.FINANCIAL_OBLIGATION))
    if extension_days:
        plan.append(_Planned(allowed * r.uniform(0.8, 0.97), Step.EXTENSION))
    plan += [
        _Planned(work * r.uniform(0.86, 0.93), Step.APPROVAL),
        _Planned(work * r.uniform(0.94, 0.99), Step.SIGNING),
        _Planned(work, Step.RESULT_READY),
    ]
    if u_withdraw < L.withdraw:
        plan.append(_Planned(work * r.uniform(0.05, 0.9), Step.WITHDRAWAL))
    elif u_stop < L.stop and mix.system not in ("land", "business"):  # those systems cannot say it
        plan.append(_Planned(work * r.uniform(0.2, 0.9), Step.STOPPED))
    plan.sort(key=lambda p: p.active)

    pausing = pausing_statuses(version, legal.policy)
    wall, active = start, timedelta(0)
    for p in plan:
        at = _sec(cal.add_working_time(wall, p.active - active))
        at = max(at, events[-1].at + SECOND)
        new_due = None
        if p.step is Step.EXTENSION:
            current = legal.due(received, version, cal, _spans(d.pauses), d.channel, d.complex_case)
            assert current is not None
            new_due = _sec(cal.add_working_time(current, extension_days * legal.policy.working_day))
        events.append(TrueEvent(p.step, at, p.transfer_to, new_due))
        wall, active = at, p.active
        if p.step in (Step.WITHDRAWAL, Step.STOPPED):
            return events
        if p.step in WAITS:
            if p.step is Step.SUPPLEMENT_REQUEST and u_abandon < L.supplement_abandoned:
                _abandon(d, events, at, r, WAIT_STATUS[p.step] in pausing)
                return events
            resume = _resume(at, p.step, d.channel, config, cal, r)
            events.append(TrueEvent(WAITS[p.step], resume))
            if WAIT_STATUS[p.step] in pausing:
                d.pauses.append(SimPause(at, resume, WAIT_REASON[p.step]))
            wall = resume
        if p.step is Step.RESULT_READY:
            events.append(TrueEvent(Step.RETURNED, _returned(d, at, config, cal, r)))
            return events
    return events


def _clock_start(d: Dossier, legal: Legal, cal: BusinessCalendar) -> datetime:
    assert d.received_at is not None
    d.receipt_effective_at = effective_receipt(d.received_at, d.channel, cal, legal.policy)
    return d.receipt_effective_at


def _resume(
    at: datetime,
    step: Step,
    channel: Channel,
    config: SimulationConfig,
    cal: BusinessCalendar,
    r: random.Random,
) -> datetime:
    """When the citizen answers: online at any hour, at the desk (or tax office) in office hours."""
    L = config.lifecycle
    lo, hi = (
        (L.supplement_min_days, L.supplement_max_days)
        if step is Step.SUPPLEMENT_REQUEST
        else (L.financial_min_days, L.financial_max_days)
    )
    back = at + timedelta(days=rngs.log_uniform(r, max(lo, 0.01), max(hi, lo + 0.01)))
    if step is Step.FINANCIAL_OBLIGATION or channel is not Channel.ONLINE:
        back = cal.next_opening(back)
    return _sec(max(back, at + SECOND))


def _abandon(d: Dossier, events: list[TrueEvent], at: datetime, r: random.Random, pauses: bool) -> None:
    """The citizen never supplements: the clock stays stopped; half of them withdraw later."""
    end = None
    if r.random() < 0.5:
        end = _sec(at + timedelta(days=r.uniform(10, 40)))
        events.append(TrueEvent(Step.WITHDRAWAL, end))
    if pauses:
        d.pauses.append(SimPause(at, end, "supplement"))


def _returned(
    d: Dossier, at: datetime, config: SimulationConfig, cal: BusinessCalendar, r: random.Random
) -> datetime:
    if d.channel is Channel.ONLINE and d.result_files:
        return _sec(at + timedelta(minutes=r.uniform(5, 180)))  # the signed file is sent at once
    if d.channel is Channel.POSTAL:
        return _sec(cal.next_opening(at + timedelta(days=r.uniform(1, 4))))
    wait = rngs.log_uniform(r, 0.2, max(0.3, config.lifecycle.pickup_max_days * 8)) * HOUR
    return _sec(cal.add_working_time(at, wait))


def _spans(pauses: list[SimPause]) -> list[PauseSpan]:
    return [PauseSpan(p.start, p.end, p.reason) for p in pauses]


def _judge(
    d: Dossier, events: list[TrueEvent], legal: Legal, cal: BusinessCalendar, sim_end: datetime
) -> None:
    """Keep what happened by ``sim_end`` and judge it as the domain does at that moment."""
    d.events = events
    if d.received_at is not None and d.received_at > sim_end:
        d.received_at = d.receipt_effective_at = None
    d.received_late = received_late(
        d.channel, d.submitted_at, d.received_at, cal, now=sim_end, policy=legal.policy
    )
    d.pauses = [
        SimPause(p.start, p.end if p.end is not None and p.end <= sim_end else None, p.reason)
        for p in d.pauses
        if p.start <= sim_end
    ]
    ends = [e.at for e in events if STATUS[e.step] in ENDING]
    if not ends:
        ends = [e.at for e in events if e.step is Step.RETURNED]
    d.ended_at = ends[0] if ends else None
    if d.received_at is None or d.version is None or not any(e.step is Step.RECEPTION for e in events):
        d.outcome = judge_outcome(None, d.ended_at, sim_end, legal.policy.early_margin, cal).value
        return
    due = legal.due(d.received_at, d.version, cal, _spans(d.pauses), d.channel, d.complex_case)
    d.legal_due_at = due
    d.clock_stopped = due is None
    letters = [e for e in events if e.step is Step.EXTENSION and e.new_due is not None]
    judged = due
    if letters:
        d.original_due_at, d.extended_due_at = due, letters[-1].new_due
        if legal.policy.extension_judged_against is ExtensionJudgement.EXTENDED:
            judged = d.extended_due_at
    d.outcome = judge_outcome(judged, d.ended_at, sim_end, legal.policy.early_margin, cal).value
