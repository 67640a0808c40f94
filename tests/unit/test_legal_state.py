"""The legal side of the state: due time, outcome, alerts once, discrepancies with their reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from streams.domain.deadlines import compute_due
from streams.domain.units import calendar_for
from streams.legal import LegalRules
from streams.merge import DEFAULT_POLICY, apply_event, evaluate
from streams.model import VN_TZ, Channel, DossierEvent, Outcome, Status
from streams.timers import state_next_moment

POLICY = replace(DEFAULT_POLICY, rules=LegalRules.packaged())
ENTERPRISE = "2.001610"  # enterprise registration: 3 working days
# Friday 9 Jan 2026, 09:00 at the counter; Saturday 10 Jan 2026 is a make-up working day.
RECEIVED = datetime(2026, 1, 9, 9, 0, tzinfo=VN_TZ)
D = "000.00.15.H17-260109-0001"


def ev(source, sid, status, at, seq=None, due=None, overdue=None, channel=Channel.COUNTER) -> DossierEvent:
    return DossierEvent(
        dossier_id=D, source=source, source_event_id=sid, source_seq=seq, status=status, occurred_at=at,
        ingested_at=at, procedure_code=ENTERPRISE, unit_code="000.00.15.H17", channel=channel,
        due_at=due, overdue=overdue,
    )  # fmt: skip


def fold(events, now):
    state = None
    for e in events:
        state = apply_event(state, e, now, POLICY).state
    return state


def test_due_time_counts_the_make_up_saturday():
    state = fold([ev("onestop", "1", Status.RECEIVED, RECEIVED)], RECEIVED)
    # 3 × 8 working hours from Fri 09:00: Sat 10 (make-up) 09:00, Mon 12 09:00, Tue 13 Jan 09:00.
    assert state.due_at == datetime(2026, 1, 13, 9, 0, tzinfo=VN_TZ)
    assert state.outcome is Outcome.PENDING


def test_source_calendar_missing_the_make_up_day_is_a_discrepancy_with_that_reason():
    legal_cal = calendar_for("000.00.15.H17")
    wrong = legal_cal.variant(drop_makeup_days=[datetime(2026, 1, 10).date()])
    version = LegalRules.packaged().catalogue.lookup(ENTERPRISE, RECEIVED)
    source_due = compute_due(RECEIVED, version, wrong, explain=False).due_at
    assert source_due == datetime(2026, 1, 14, 9, 0, tzinfo=VN_TZ)
    state = fold([
        ev("onestop", "1", Status.RECEIVED, RECEIVED, due=datetime(2026, 1, 13, 9, 0, tzinfo=VN_TZ)),
        ev("portal", "p1", Status.RECEIVED, RECEIVED + timedelta(minutes=2), due=source_due),
    ], RECEIVED + timedelta(minutes=3))  # fmt: skip
    found = [(d.source, d.field, d.reason) for d in state.discrepancies]
    assert found == [("portal", "due_at", "calendar_makeup_day")]
    assert "Sat 10/01/2026" in state.discrepancies[0].detail


def test_missed_pause_is_named_with_its_dates():
    pause_start = datetime(2026, 1, 12, 8, 0, tzinfo=VN_TZ)
    pause_end = datetime(2026, 1, 12, 16, 0, tzinfo=VN_TZ)
    events = [
        ev("onestop", "1", Status.RECEIVED, RECEIVED, seq=1),
        ev("onestop", "2", Status.SUPPLEMENT_REQUESTED, pause_start, seq=2),
        ev("onestop", "3", Status.SUPPLEMENT_RECEIVED, pause_end, seq=3),
    ]
    # The portal never recorded the pause: its date is the unpaused one.
    events.append(ev("portal", "p", Status.IN_PROGRESS, pause_end + timedelta(minutes=1),
                     due=datetime(2026, 1, 13, 9, 0, tzinfo=VN_TZ)))  # fmt: skip
    state = fold(events, pause_end + timedelta(minutes=2))
    # Paused 6.5 working hours (08:00–11:30, 13:00–16:00): Tue 13 Jan 09:00 moves to 17:00.
    assert state.due_at == datetime(2026, 1, 13, 17, 0, tzinfo=VN_TZ)
    found = [(d.source, d.reason) for d in state.discrepancies]
    assert found == [("portal", "missed_pause")]
    assert "12/01 08:00–12/01 16:00" in state.discrepancies[0].detail


def test_overdue_outcome_and_alerts_fire_once_with_the_clock():
    state = fold([ev("onestop", "1", Status.RECEIVED, RECEIVED)], RECEIVED)
    assert state.alerts == ()
    due = state.due_at
    moment = datetime(2026, 1, 12, 9, 0, tzinfo=VN_TZ)  # one working day (8 h) before the due time
    assert moment in _moments(state)
    assert evaluate(state, moment - timedelta(seconds=1), POLICY).state.alerts == ()
    near = evaluate(state, moment, POLICY).state
    assert near.alerts == ("near_deadline",)
    assert evaluate(near, moment + timedelta(minutes=1), POLICY).state.alerts == ("near_deadline",)
    late = evaluate(near, due + timedelta(seconds=1), POLICY).state
    assert late.alerts == ("near_deadline", "overdue")
    assert late.outcome is Outcome.OVERDUE
    assert all(m <= late.evaluated_at for m in _moments(late))  # no alert left to wait for


def _moments(state):
    """Every moment the due-time index would wake this dossier at, following it through time."""
    out, current = [], state
    for _ in range(10):
        m = state_next_moment(current, POLICY)
        if m is None:
            break
        out.append(m)
        current = evaluate(current, m, POLICY).state
    return out


@pytest.mark.parametrize(
    ("ended", "outcome"),
    [
        (datetime(2026, 1, 13, 9, 0, tzinfo=VN_TZ), Outcome.ON_TIME),
        (datetime(2026, 1, 13, 9, 1, tzinfo=VN_TZ), Outcome.OVERDUE),
        (datetime(2026, 1, 9, 10, 0, tzinfo=VN_TZ), Outcome.ENDED_EARLY),
    ],
)
def test_outcome_is_judged_at_the_end_of_processing(ended, outcome):
    state = fold(
        [
            ev("onestop", "1", Status.RECEIVED, RECEIVED, seq=1),
            ev("onestop", "2", Status.RESULT_READY, ended, seq=2),
        ],
        ended,
    )
    assert state.outcome is outcome
    assert "overdue" not in state.alerts or outcome is Outcome.OVERDUE


def test_an_ended_dossier_never_gets_a_deadline_alert_later():
    ended = datetime(2026, 1, 9, 10, 0, tzinfo=VN_TZ)
    state = fold(
        [
            ev("onestop", "1", Status.RECEIVED, RECEIVED, seq=1),
            ev("onestop", "2", Status.RESULT_READY, ended, seq=2),
        ],
        ended,
    )
    assert evaluate(state, datetime(2026, 2, 1, tzinfo=VN_TZ), POLICY).state.alerts == ()


def test_online_dossier_received_after_a_working_day_is_received_late():
    submitted = datetime(2026, 1, 5, 9, 0, tzinfo=VN_TZ)  # Monday
    state = fold(
        [ev("portal", "s", Status.SUBMITTED, submitted, channel=Channel.ONLINE),
         ev("onestop", "r", Status.RECEIVED, submitted + timedelta(days=1, hours=1), channel=Channel.ONLINE)],
        submitted + timedelta(days=1, hours=1),
    )  # fmt: skip
    assert state.received_late
    assert "received_late" in state.alerts


def test_complex_case_read_from_dates_computed_on_a_wrong_calendar():
    """Every system's calendar lacks the make-up Saturday and the case is complex (8 working days,
    marriage with verification): the systems' common date is the complex limit on that calendar."""
    marriage = "1.000894"
    rules = LegalRules.packaged()
    version = rules.catalogue.lookup(marriage, RECEIVED)
    wrong = calendar_for("000.00.15.H17").variant(drop_makeup_days=[datetime(2026, 1, 10).date()])
    source_due = compute_due(RECEIVED, version, wrong, complex_case=True, explain=False).due_at
    legal_complex = compute_due(RECEIVED, version, calendar_for("000.00.15.H17"), complex_case=True,
                                explain=False).due_at  # fmt: skip
    events = [
        replace(ev("onestop", "1", Status.RECEIVED, RECEIVED, due=source_due), procedure_code=marriage),
        replace(ev("portal", "2", Status.RECEIVED, RECEIVED, due=source_due), procedure_code=marriage),
    ]
    state = fold(events, RECEIVED)
    assert state.due_at == legal_complex != source_due
    assert {(d.source, d.reason) for d in state.discrepancies} == {
        ("onestop", "calendar_makeup_day"),
        ("portal", "calendar_makeup_day"),
    }


def test_a_pause_before_the_moment_withdraws_the_alert_until_the_clock_runs_again():
    received = ev("onestop", "1", Status.RECEIVED, RECEIVED, seq=1)
    paused_at = datetime(2026, 1, 12, 8, 0, tzinfo=VN_TZ)  # before the near moment (Mon 09:00)
    state = fold([received, ev("onestop", "2", Status.SUPPLEMENT_REQUESTED, paused_at, seq=2)], paused_at)
    assert state.due_at is None  # the clock is stopped: no due time, nothing to wait for
    later = evaluate(state, datetime(2026, 1, 20, tzinfo=VN_TZ), POLICY).state
    assert later.alerts == ()
    assert all(m < paused_at for m in _moments(state))  # nothing scheduled while the clock stands
    # The citizen answers a week later: the clock runs again, the due time moved by the pause.
    resumed_at = datetime(2026, 1, 19, 8, 0, tzinfo=VN_TZ)
    answer = ev("onestop", "3", Status.SUPPLEMENT_RECEIVED, resumed_at, seq=3)
    resumed = apply_event(later, answer, resumed_at, POLICY).state
    assert resumed.due_at is not None and resumed.due_at > datetime(2026, 1, 13, 9, 0, tzinfo=VN_TZ)
    assert resumed.alerts == ()  # still more than a working day left
