"""The merge rule, without Kafka: stale, duplicate and reordered events, sources side by side."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import codec
from streams.facts import unified_status
from streams.merge import apply_event
from streams.model import STAGE, VN_TZ, Channel, DossierEvent, Status
from streams.state import DossierState

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=VN_TZ)
NOW = datetime(2026, 3, 9, 8, 0, tzinfo=VN_TZ)
D = "000.00.15.H17-260302-0001"


def ev(source: str, sid: str, status: Status, minutes: int, seq: int | None = None, **kw) -> DossierEvent:
    return DossierEvent(
        dossier_id=D, source=source, source_event_id=sid, source_seq=seq, status=status,
        occurred_at=T0 + timedelta(minutes=minutes),
        ingested_at=T0 + timedelta(minutes=minutes, seconds=5), **kw,
    )  # fmt: skip


def fold(events: list[DossierEvent]) -> DossierState:
    state = None
    for e in events:
        state = apply_event(state, e, NOW).state
    assert state is not None
    return state


def test_first_event_creates_state_with_version_one():
    r = apply_event(None, ev("portal", "1", Status.SUBMITTED, 0, channel=Channel.ONLINE), NOW)
    assert r.applied and r.changed
    assert r.state.version == 1
    assert r.state.status == Status.SUBMITTED
    assert r.state.channel == Channel.ONLINE
    assert r.state.updated_at == NOW


def test_duplicate_is_not_applied_and_does_not_bump_version():
    e = ev("portal", "1", Status.RECEIVED, 0)
    first = apply_event(None, e, NOW).state
    again = apply_event(first, e, NOW)
    assert not again.applied and not again.changed
    assert again.state is first
    assert again.state.sources["portal"].events == 1


def test_stale_event_never_moves_the_dossier_back():
    state = fold([ev("onestop", "a", Status.RESULT_READY, 300, seq=3)])
    late = apply_event(state, ev("onestop", "b", Status.IN_PROGRESS, 60, seq=2), NOW)
    assert late.applied
    assert late.state.status == Status.RESULT_READY
    assert late.state.sources["onestop"].status == Status.RESULT_READY
    assert late.state.sources["onestop"].events == 2


def test_source_sequence_beats_a_skewed_clock_within_one_source():
    # The source's clock jumped back: seq 2 carries an earlier timestamp than seq 1.
    state = fold(
        [ev("land", "1", Status.IN_PROGRESS, 100, seq=1), ev("land", "2", Status.RESULT_READY, 50, seq=2)]
    )
    assert state.sources["land"].status == Status.RESULT_READY


def test_sources_are_kept_side_by_side():
    state = fold([ev("onestop", "o1", Status.RESULT_READY, 200), ev("portal", "p1", Status.IN_PROGRESS, 100)])
    assert state.status == Status.RESULT_READY
    assert {s: v.status for s, v in state.sources.items()} == {
        "onestop": Status.RESULT_READY,
        "portal": Status.IN_PROGRESS,
    }


def test_supplement_loop_follows_event_time_within_the_processing_stage():
    state = fold([
        ev("onestop", "1", Status.IN_PROGRESS, 10),
        ev("onestop", "2", Status.SUPPLEMENT_REQUESTED, 20),
        ev("onestop", "3", Status.SUPPLEMENT_RECEIVED, 30),
    ])  # fmt: skip
    assert state.status == Status.SUPPLEMENT_RECEIVED


def test_onestop_is_authoritative_within_the_processing_stage():
    # The portal's clock is ahead: its stale "supplement requested" looks newer than one-stop's
    # "in progress"; within the processing stage the one-stop system's word wins.
    state = fold(
        [ev("onestop", "1", Status.IN_PROGRESS, 30), ev("portal", "2", Status.SUPPLEMENT_REQUESTED, 40)]
    )
    assert state.status == Status.IN_PROGRESS


def test_first_terminal_exit_wins():
    state = fold([ev("portal", "w", Status.WITHDRAWN, 50), ev("onestop", "r", Status.REJECTED, 20)])
    assert state.status == Status.REJECTED
    assert state.ended_at == T0 + timedelta(minutes=20)


def test_receipt_time_prefers_the_one_stop_desk():
    state = fold([ev("portal", "p", Status.RECEIVED, 0), ev("onestop", "o", Status.RECEIVED, 7)])
    assert state.received_at == T0 + timedelta(minutes=7)


def test_returned_without_result_ready_is_its_own_end():
    state = fold([ev("onestop", "1", Status.RECEIVED, 0), ev("onestop", "2", Status.RETURNED, 90)])
    assert state.ended_at == T0 + timedelta(minutes=90)
    state = fold([
        ev("onestop", "1", Status.RECEIVED, 0), ev("onestop", "2", Status.RESULT_READY, 60),
        ev("onestop", "3", Status.RETURNED, 90),
    ])  # fmt: skip
    assert state.ended_at == T0 + timedelta(minutes=60)


def test_attributes_come_from_the_most_trusted_source():
    state = fold([
        ev("portal", "p", Status.RECEIVED, 0, unit_code="OLD.UNIT", procedure_code="P1"),
        ev("onestop", "o", Status.RECEIVED, 1, unit_code="NEW.UNIT"),
    ])  # fmt: skip
    assert state.unit_code == "NEW.UNIT"
    assert state.procedure_code == "P1"
    assert state.sources["portal"].unit_code == "OLD.UNIT"


def test_state_survives_its_table_serialisation_and_avro():
    state = fold([ev("portal", "1", Status.SUBMITTED, 0, due_at=T0 + timedelta(days=3), overdue=False),
                  ev("onestop", "2", Status.RECEIVED, 5, seq=1)])  # fmt: skip
    assert DossierState.loads(state.dumps()) == state
    rec = codec.decode("vn.dongbo.DossierState", codec.encode("vn.dongbo.DossierState", state.to_record()))
    assert rec["version"] == state.version
    assert rec["sources"]["portal"]["due_at"] == T0 + timedelta(days=3)


def test_event_for_another_dossier_is_refused():
    state = fold([ev("portal", "1", Status.SUBMITTED, 0)])
    other = DossierEvent(dossier_id="X", source="portal", source_event_id="2", status=Status.RECEIVED,
                         occurred_at=T0, ingested_at=T0)  # fmt: skip
    try:
        apply_event(state, other, NOW)
    except ValueError as exc:
        assert "X" in str(exc)
    else:
        raise AssertionError("a foreign event was merged")


# -- properties --------------------------------------------------------------------------------

SOURCES = ["onestop", "portal", "civil"]
events_strategy = st.lists(
    st.tuples(st.sampled_from(SOURCES), st.sampled_from(list(Status)), st.integers(0, 10_000)),
    min_size=1,
    max_size=25,
    unique_by=lambda t: (t[0], t[2]),
).map(lambda items: [ev(src, f"{src}-{m}", status, m) for src, status, m in items])


@settings(max_examples=150, deadline=None)
@given(events_strategy, st.randoms(use_true_random=False))
def test_any_arrival_order_with_duplicates_ends_in_the_same_state(events, rnd):
    reference = fold(events)
    shuffled = list(events) + [rnd.choice(events) for _ in range(len(events) // 2 + 1)]
    rnd.shuffle(shuffled)
    other = fold(shuffled)
    assert other.visible() == reference.visible()
    assert other.history == reference.history
    assert sum(v.events for v in other.sources.values()) == len(events)


@settings(max_examples=150, deadline=None)
@given(events_strategy)
def test_unified_stage_never_decreases_as_events_arrive(events):
    state = None
    last_stage = -1
    for e in events:
        state = apply_event(state, e, NOW).state
        assert state.status is not None
        stage = STAGE[state.status]
        assert stage >= last_stage
        last_stage = stage


@settings(max_examples=100, deadline=None)
@given(events_strategy)
def test_version_counts_visible_changes_only(events):
    state = None
    changes = 0
    for e in events + events:  # the second pass is all duplicates
        r = apply_event(state, e, NOW)
        changes += r.changed
        state = r.state
    assert state is not None and state.version == changes <= len(events)


def test_unified_status_of_nothing_is_none():
    assert unified_status([]) is None
