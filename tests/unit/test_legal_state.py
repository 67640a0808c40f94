"""The legal side of the state: due time, outcome, alerts once, discrepancies with their reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from streams.domain.deadlines import compute_due
from streams.domain.units import calendar_for
from streams.legal import LegalRules
from streams.merge import apply_event, evaluate
from streams.merge_policy import DEFAULT_POLICY
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


def test_a_calendar_lacking_the_whole_yearly_table_is_named_whole_when_its_days_cancel_out():
    # Received Wed 31 Dec 2025, 10 working days: the window holds Thu 1 Jan (holiday), Fri 2 Jan
    # (swapped day off) and Sat 10 Jan (its make-up day). A calendar without the 2026 table counts
    # 1 and 2 Jan as working and 10 Jan as off: one day early, which "lacks 1 Jan" alone would
    # also give. The table comes as one decree: the whole of it is the reading kept.
    received = datetime(2025, 12, 31, 9, 0, tzinfo=VN_TZ)
    legal_cal = calendar_for("000.00.15.H17")
    no_table = legal_cal.variant(
        drop_holidays=[datetime(2026, 1, 1).date(), datetime(2026, 1, 2).date()],
        drop_makeup_days=[datetime(2026, 1, 10).date()],
    )
    version = LegalRules.packaged().catalogue.lookup("1.012780", received)
    assert version is not None and version.limit.value == 10
    legal_due = compute_due(received, version, legal_cal, explain=False).due_at
    source_due = compute_due(received, version, no_table, explain=False).due_at
    assert legal_due is not None and source_due is not None and source_due < legal_due
    events = [
        replace(ev("onestop", "1", Status.RECEIVED, received, due=legal_due), procedure_code="1.012780"),
        replace(ev("portal", "p", Status.RECEIVED, received + timedelta(minutes=3), due=source_due),
                procedure_code="1.012780"),
    ]  # fmt: skip
    state = fold(events, received + timedelta(minutes=5))
    assert state.due_at == legal_due
    found = {(d.source, d.reason) for d in state.discrepancies if d.field == "due_at"}
    assert found == {("portal", "calendar_holiday"), ("portal", "calendar_makeup_day")}
    days = " ".join(d.detail for d in state.discrepancies)
    assert "01/01/2026" in days and "02/01/2026" in days and "10/01/2026" in days


def test_a_moved_appointment_is_the_one_cause_named_and_its_base_is_in_the_detail():
    legal_due = datetime(2026, 1, 13, 9, 0, tzinfo=VN_TZ)
    moved = datetime(2026, 1, 16, 9, 0, tzinfo=VN_TZ)  # three working days later, in one system only
    state = fold([
        ev("onestop", "1", Status.RECEIVED, RECEIVED, due=moved),
        ev("portal", "p1", Status.RECEIVED, RECEIVED + timedelta(minutes=2), due=legal_due),
    ], RECEIVED + timedelta(minutes=3))  # fmt: skip
    found = [(d.source, d.reason) for d in state.discrepancies if d.field == "due_at"]
    assert found == [("onestop", "appointment_changed")]
    assert "+3 working day(s)" in state.discrepancies[0].detail


def test_a_pause_ends_when_the_first_system_shows_the_dossier_moving_on():
    # The one-stop system lost its "supplement received": its pause would run to its next update.
    start, back = RECEIVED + timedelta(hours=1), RECEIVED + timedelta(hours=4)
    state = fold([
        ev("onestop", "1", Status.RECEIVED, RECEIVED, seq=1),
        ev("onestop", "2", Status.SUPPLEMENT_REQUESTED, start, seq=2),
        ev("onestop", "4", Status.RESULT_READY, back + timedelta(days=1), seq=4),
        ev("civil", "c1", Status.SUPPLEMENT_REQUESTED, start),
        ev("civil", "c2", Status.SUPPLEMENT_RECEIVED, back),
    ], back + timedelta(days=2))  # fmt: skip
    assert [(p.start, p.end) for p in state.pauses] == [(start, back)]


def test_moments_a_later_record_states_recover_updates_every_system_lost():
    # Every system lost "received", "supplement requested" and "result ready"; the portal repeats
    # NgayTiepNhan, the supplement list and NgayKetThucXuLy on its later records.
    start, back = RECEIVED + timedelta(hours=2), RECEIVED + timedelta(days=1)
    ready = RECEIVED + timedelta(days=3)
    later = replace(
        ev("portal", "p9", Status.RETURNED, ready + timedelta(hours=2)), stated_received_at=RECEIVED,
        stated_supplement_requested_at=start, stated_supplement_received_at=back, stated_ended_at=ready,
    )  # fmt: skip
    state = fold([ev("onestop", "o2", Status.IN_PROGRESS, RECEIVED + timedelta(hours=1), seq=2), later],
                 ready + timedelta(hours=3))  # fmt: skip
    assert state.received_at == RECEIVED
    assert [(p.start, p.end) for p in state.pauses] == [(start, back)]
    assert state.ended_at == ready


def test_near_deadline_of_a_dossier_due_monday_close_fires_at_friday_close():
    # The case where the copies of the rule disagreed: received Thursday 5 Mar 2026 07:30 at the
    # counter, 3 working days → due Monday 9 Mar 17:00. The worker's moment, the state's alert and
    # the domain predicate all say: near from Friday 6 Mar 17:00 (docs/domain-rules.md §9).
    received = datetime(2026, 3, 5, 7, 30, tzinfo=VN_TZ)
    state = fold([ev("onestop", "1", Status.RECEIVED, received)], received)
    assert state.due_at == datetime(2026, 3, 9, 17, 0, tzinfo=VN_TZ)
    friday_close = datetime(2026, 3, 6, 17, 0, tzinfo=VN_TZ)
    moments = _moments(state)  # (the first is the portal's absence running out, 4 h after receipt)
    assert friday_close in moments and datetime(2026, 3, 9, 7, 30, tzinfo=VN_TZ) not in moments
    assert evaluate(state, friday_close - timedelta(seconds=1), POLICY).state.alerts == ()
    assert evaluate(state, friday_close, POLICY).state.alerts == ("near_deadline",)


def test_an_extended_dossier_turns_overdue_at_its_original_date_with_no_event():
    # Judged against the original date, tracked against the apology letter's (§6): the index
    # must wake the dossier when the original date passes, or its outcome stays PENDING.
    from streams.legal import Legal, next_moments

    due, extended = datetime(2026, 1, 13, 9, 0, tzinfo=VN_TZ), datetime(2026, 1, 20, 9, 0, tzinfo=VN_TZ)
    legal = Legal(due_at=due, extended_due_at=extended, outcome=Outcome.PENDING)
    moments = next_moments(
        POLICY.rules, legal, unit_code="000.00.15.H17", channel=Channel.COUNTER, submitted_at=None,
        received_at=RECEIVED, ended=False, fired=frozenset(),
    )  # fmt: skip
    assert due + timedelta(microseconds=1) in moments
