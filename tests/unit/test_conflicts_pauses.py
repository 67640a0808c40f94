"""Conflicts between systems and clock pauses, derived from a dossier's history (no Kafka)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.conflicts import ConflictPolicy, detect, next_moment
from streams.merge import apply_event, conflict_changes, evaluate
from streams.model import VN_TZ, DossierEvent, Status
from streams.state import DossierState

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=VN_TZ)
D = "D-1"


def ev(source: str, sid: str, status: Status, minutes: float, due_hours: float | None = None) -> DossierEvent:
    at = T0 + timedelta(minutes=minutes)
    due = T0 + timedelta(hours=due_hours) if due_hours is not None else None
    return DossierEvent(dossier_id=D, source=source, source_event_id=sid, status=status, occurred_at=at,
                        ingested_at=at, due_at=due)  # fmt: skip


def fold(events, now_minutes: float) -> DossierState:
    state = None
    for e in events:
        state = apply_event(state, e, T0 + timedelta(minutes=now_minutes)).state
    assert state is not None
    return state


def kinds(state: DossierState) -> set[str]:
    return {c.key for c in state.conflicts}


def test_disagreement_within_tolerance_is_not_a_conflict():
    state = fold(
        [ev("onestop", "o1", Status.RESULT_READY, 0), ev("portal", "p1", Status.IN_PROGRESS, -10)], 29
    )
    assert kinds(state) == set()


def test_disagreement_that_outlives_the_tolerance_opens_then_resolves_once():
    state = fold(
        [ev("onestop", "o1", Status.RESULT_READY, 0), ev("portal", "p1", Status.IN_PROGRESS, -10)], 1
    )
    later = evaluate(state, T0 + timedelta(minutes=31))
    assert kinds(later.state) == {"status_mismatch:onestop+portal"}
    assert later.changed and later.state.version == state.version + 1
    opened, resolved = conflict_changes(state, later.state)
    assert [c.kind for c in opened] == ["status_mismatch"] and resolved == []
    c = later.state.conflicts[0]
    assert c.values == {"onestop": "RESULT_READY", "portal": "IN_PROGRESS"}
    assert c.since == T0
    # Re-evaluating later changes nothing: opened once.
    again = evaluate(later.state, T0 + timedelta(hours=5))
    assert not again.changed and conflict_changes(later.state, again.state) == ([], [])
    # The portal catches up: resolved once.
    synced = apply_event(again.state, ev("portal", "p2", Status.RESULT_READY, 300), T0 + timedelta(hours=5))
    opened, resolved = conflict_changes(again.state, synced.state)
    assert opened == [] and [c.kind for c in resolved] == ["status_mismatch"]


def test_contradictory_terminal_outcomes_open_at_once():
    state = fold([ev("onestop", "o1", Status.REJECTED, 0), ev("portal", "p1", Status.RETURNED, 1)], 1)
    assert kinds(state) == {"terminal_contradiction:onestop+portal"}


def test_portal_supplement_loop_without_supplement_received_is_not_a_conflict():
    # The portal has no 'supplement received' status (5 → 4): one-stop says SUPPLEMENT_RECEIVED.
    state = fold(
        [ev("onestop", "o1", Status.SUPPLEMENT_RECEIVED, 0), ev("portal", "p1", Status.IN_PROGRESS, 0)], 600
    )
    assert kinds(state) == set()


def test_ministry_system_does_not_know_the_result_was_handed_over():
    state = fold([ev("onestop", "o1", Status.RETURNED, 0), ev("civil", "c1", Status.RESULT_READY, -30)], 6000)
    assert kinds(state) == {"missing_in_system:onestop+portal"}  # but no status mismatch with civil


def test_appointment_dates_that_differ():
    onestop = ev("onestop", "o1", Status.RECEIVED, 0, due_hours=72)
    state = fold([onestop, ev("portal", "p1", Status.RECEIVED, 1, due_hours=96)], 2)
    assert "due_date_mismatch:onestop+portal" in kinds(state)


def test_dossier_that_never_reached_the_portal():
    state = fold([ev("onestop", "o1", Status.RECEIVED, 0)], 1)
    assert kinds(state) == set()
    assert next_moment(state.sources, {"onestop": T0}, ConflictPolicy()) == T0 + timedelta(hours=4)
    assert kinds(evaluate(state, T0 + timedelta(hours=4)).state) == {"missing_in_system:onestop+portal"}


def test_one_pairs_moment_passing_does_not_hide_another_pairs():
    # The portal lost "received": onestop+portal (30 min) opens first, business+portal (1 h) later.
    policy = ConflictPolicy(
        default_tolerance=timedelta(hours=1),
        tolerances={frozenset({"onestop", "portal"}): timedelta(minutes=30)},
    )
    state = fold([
        ev("portal", "p0", Status.SUBMITTED, -30), ev("onestop", "o1", Status.RECEIVED, 0),
        ev("business", "b1", Status.RECEIVED, 0),
    ], 0)  # fmt: skip
    first_seen = {s: v.last_occurred_at for s, v in state.sources.items()}
    assert next_moment(state.sources, first_seen, policy) == T0 + timedelta(minutes=30)
    after_first = T0 + timedelta(minutes=31)
    assert next_moment(state.sources, first_seen, policy, after_first) == T0 + timedelta(hours=1)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 600), st.integers(0, 600))
def test_next_moment_is_exactly_when_a_mismatch_opens(portal_lag, probe):
    state = fold(
        [ev("onestop", "o1", Status.RESULT_READY, 0), ev("portal", "p1", Status.IN_PROGRESS, -portal_lag)], 0
    )
    first_seen = {s: v.last_occurred_at for s, v in state.sources.items()}
    moment = next_moment(state.sources, first_seen, ConflictPolicy())
    assert moment is not None
    at = T0 + timedelta(minutes=probe)
    assert bool(detect(state.sources, first_seen, at, ConflictPolicy())) == (at >= moment)


def test_pause_from_supplement_request_to_next_status():
    state = fold([
        ev("onestop", "1", Status.IN_PROGRESS, 0), ev("onestop", "2", Status.SUPPLEMENT_REQUESTED, 60),
        ev("onestop", "3", Status.SUPPLEMENT_RECEIVED, 180), ev("onestop", "4", Status.IN_PROGRESS, 200),
    ], 300)  # fmt: skip
    assert [(p.start, p.end, p.reason) for p in state.pauses] == [
        (T0 + timedelta(minutes=60), T0 + timedelta(minutes=180), "supplement")
    ]


def test_open_pause_has_no_end_and_a_system_missing_the_pause_does_not_erase_it():
    state = fold([
        ev("onestop", "1", Status.IN_PROGRESS, 0), ev("portal", "p1", Status.IN_PROGRESS, 1),
        ev("portal", "p2", Status.SUPPLEMENT_REQUESTED, 61),
    ], 100)  # fmt: skip
    assert [(p.start, p.end, p.source) for p in state.pauses] == [
        (T0 + timedelta(minutes=61), None, "portal")
    ]


def test_lagging_copies_of_one_pause_count_once_and_the_trusted_source_wins():
    state = fold([
        ev("onestop", "1", Status.SUPPLEMENT_REQUESTED, 60), ev("onestop", "2", Status.IN_PROGRESS, 120),
        ev("portal", "1", Status.SUPPLEMENT_REQUESTED, 75), ev("portal", "2", Status.IN_PROGRESS, 140),
    ], 300)  # fmt: skip
    assert [(p.start, p.end, p.source) for p in state.pauses] == [
        (T0 + timedelta(minutes=60), T0 + timedelta(minutes=120), "onestop")
    ]


def test_times_in_texts_people_read_are_local_with_the_offset():
    # Stored and decoded times are often UTC; a person in Da Nang reads 10:00 +07:00, not 03:00.
    from datetime import UTC

    from streams.domain.explain import fmt_dt, fmt_span

    start, end = datetime(2026, 3, 3, 3, 0, tzinfo=UTC), datetime(2026, 3, 6, 7, 0, tzinfo=UTC)
    assert fmt_dt(start) == "Tue 03/03/2026 10:00 +07:00"
    assert fmt_span(start, end) == "03/03 10:00–06/03 14:00 +07:00"
