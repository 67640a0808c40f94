"""The merge engine's bookkeeping: per-partition stream time, timers, and the end-of-replay tick."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from contract.partitioning import partition_of
from streams.agents.merge import watermark_of, watermark_record
from streams.engine import MergeEngine
from streams.legal import LegalRules
from streams.merge_policy import DEFAULT_POLICY
from streams.model import VN_TZ, Channel, DossierEvent, Status

POLICY = replace(DEFAULT_POLICY, rules=LegalRules.packaged())
RECEIVED = datetime(2026, 1, 9, 9, 0, tzinfo=VN_TZ)  # Friday, at the counter
D = "000.00.15.H17-260109-0001"


def received(dossier: str = D) -> DossierEvent:
    return DossierEvent(
        dossier_id=dossier, source="onestop", source_event_id="1", source_seq=1, status=Status.RECEIVED,
        occurred_at=RECEIVED, ingested_at=RECEIVED, procedure_code="2.001610", unit_code="000.00.15.H17",
        channel=Channel.COUNTER,
    )  # fmt: skip


def test_a_quiet_partition_fires_its_alerts_when_the_replay_ends() -> None:
    engine = MergeEngine(POLICY, {}, lambda key: partition_of(key, 12))
    p = partition_of(D.encode(), 12)
    [out] = engine.on_event(p, received()).outputs
    assert out.applied and out.state.due_at == datetime(2026, 1, 13, 9, 0, tzinfo=VN_TZ)
    assert engine.advance((p + 1) % 12, datetime(2026, 2, 1, tzinfo=VN_TZ)) == []  # another partition
    fired = engine.advance(p, datetime(2026, 1, 20, tzinfo=VN_TZ))
    assert [a for o in fired for a in o.alerts] == ["near_deadline", "overdue"]
    assert engine.advance(p, datetime(2026, 1, 21, tzinfo=VN_TZ)) == []  # once each
    assert engine.advance(p, datetime(2026, 1, 1, tzinfo=VN_TZ)) == []  # stream time never goes back


def test_a_partitions_time_is_the_slowest_sources_and_never_goes_back() -> None:
    engine = MergeEngine(POLICY, {}, lambda key: partition_of(key, 12))
    p = partition_of(D.encode(), 12)
    engine.on_event(p, received())
    assert engine.time(p) == RECEIVED
    portal = replace(received(), source="portal", source_event_id="p1", event_id="",
                     ingested_at=RECEIVED - timedelta(hours=1))  # fmt: skip
    engine.on_event(p, portal)  # a source first read late cannot pull the time back
    assert engine.time(p) == RECEIVED
    three = RECEIVED + timedelta(hours=3)
    later = replace(received(), source_event_id="2", event_id="", status=Status.IN_PROGRESS,
                    occurred_at=three, ingested_at=three)  # fmt: skip
    engine.on_event(p, later)
    assert engine.time(p) == RECEIVED  # the portal has delivered nothing since: the time waits for it
    # ... and the one-stop record read ahead is not visible yet: the state is what was known then
    state = engine.state(D.encode())
    assert state is not None and state.status is Status.RECEIVED and len(state.history) == 3
    four = RECEIVED + timedelta(hours=4)
    portal_later = replace(portal, source_event_id="p2", event_id="", status=Status.IN_PROGRESS,
                           occurred_at=four, ingested_at=four)  # fmt: skip
    outs = engine.on_event(p, portal_later).outputs
    assert engine.time(p) == RECEIVED + timedelta(hours=3)
    assert (outs[0].state.status, outs[0].at) == (Status.IN_PROGRESS, three)


def test_the_clock_is_kept_in_the_table_and_a_new_engine_resumes_from_it() -> None:
    table: dict[bytes, bytes] = {}
    engine = MergeEngine(POLICY, table, lambda key: partition_of(key, 12))
    p = partition_of(D.encode(), 12)
    engine.on_event(p, received())
    engine.advance(p, datetime(2026, 1, 12, tzinfo=VN_TZ))
    again = MergeEngine(POLICY, table, lambda key: partition_of(key, 12))
    assert again.time(p) == datetime(2026, 1, 12, tzinfo=VN_TZ)
    # the restarted engine goes on where the first stopped: near-deadline is still to come, once
    fired = again.advance(p, datetime(2026, 1, 20, tzinfo=VN_TZ))
    assert [a for o in fired for a in o.alerts] == ["near_deadline", "overdue"]
    assert again.advance(p, datetime(2026, 1, 12, tzinfo=VN_TZ)) == [] and again.time(p) == datetime(
        2026, 1, 20, tzinfo=VN_TZ
    )


def test_deferred_writes_reach_the_table_only_when_handed_over() -> None:
    table: dict[bytes, bytes] = {}
    engine = MergeEngine(POLICY, table, lambda key: partition_of(key, 12), write_through=False)
    p = partition_of(D.encode(), 12)
    engine.on_event(p, received())
    assert table == {} and engine.state(D.encode()) is not None  # read back before it is stored
    writes = engine.take_writes()
    assert {key for _, key, _ in writes} >= {D.encode()} and all(part == p for part, _, _ in writes)
    assert writes[-1][1].startswith(b"\x00clock:")  # the clock after the states it counts
    assert engine.take_writes() == []


def test_watermark_ticks_round_trip_and_junk_is_ignored() -> None:
    when = RECEIVED + timedelta(days=3)
    assert watermark_of(watermark_record(when)) == when
    assert watermark_of(b"") is None and watermark_of(None) is None
    assert watermark_of(b"watermark not-a-time") is None
    assert watermark_of(b"watermark 2026-01-01T00:00:00") is None  # no offset: refused


def test_a_date_the_calendar_cannot_count_to_rejects_the_event_and_keeps_the_table() -> None:
    # A source's due date in year 2500 (straight on dossier.events, past the normaliser's guard):
    # the calendar raises; the event is rejected as a value (the agent dead-letters it, stage
    # merge) and the state stays as it was. The worker goes on with the next event.
    table: dict[bytes, bytes] = {}
    engine = MergeEngine(POLICY, table, lambda key: partition_of(key, 12))
    p = partition_of(D.encode(), 12)
    assert engine.on_event(p, received()).applied
    before = table[D.encode()]
    absurd = replace(received(), source="portal", source_event_id="p1", event_id="",
                     due_at=datetime(2500, 1, 1, tzinfo=VN_TZ))  # fmt: skip
    step = engine.on_event(p, absurd)
    assert step.rejected is not None and step.rejected.reason == "merge_rejected"
    assert "outside the calendar" in step.rejected.detail and not step.applied
    assert table[D.encode()] == before
    later = replace(received(), source_event_id="2", event_id="", status=Status.IN_PROGRESS,
                    occurred_at=RECEIVED + timedelta(hours=1))  # fmt: skip
    assert engine.on_event(p, later).applied


def test_a_bug_in_the_rules_is_not_swallowed(monkeypatch) -> None:
    import pytest

    import streams.engine as engine_module

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(engine_module, "apply_event", broken)
    engine = MergeEngine(POLICY, {}, lambda key: partition_of(key, 12))
    with pytest.raises(KeyError):
        engine.on_event(partition_of(D.encode(), 12), received())


def test_a_record_not_visible_yet_is_still_rejected_at_once() -> None:
    # The partition's time has not started (it waits for three sources): the record is kept for
    # later, but what the rules will make of it is tried now, while it can be dead-lettered.
    engine = MergeEngine(POLICY, {}, lambda key: partition_of(key, 12), expected_sources=("onestop", "civil"))
    p = partition_of(D.encode(), 12)
    assert engine.time(p) is None and engine.on_event(p, received()).applied
    absurd = replace(received(), source="portal", source_event_id="p1", event_id="",
                     due_at=datetime(2500, 1, 1, tzinfo=VN_TZ))  # fmt: skip
    step = engine.on_event(p, absurd)
    assert step.rejected is not None and step.rejected.reason == "merge_rejected"
    state = engine.state(D.encode())
    assert state is not None and [h.source for h in state.history] == ["onestop"]


def _dossiers_on_one_partition(n: int) -> tuple[int, list[str]]:
    names = [f"000.00.15.H17-260109-{i:04d}" for i in range(12 * n)]
    p = partition_of(names[0].encode(), 12)
    return p, [d for d in names if partition_of(d.encode(), 12) == p][:n]


def _store(engine: MergeEngine) -> int:
    """What the worker does at the end of a step: the writes handed over to the table."""
    writes = engine.take_writes()
    for _, key, raw in writes:
        engine.table[key] = raw
    return len(writes)


def _look_agains(outputs: list) -> list[tuple[str, object, tuple[str, ...]]]:
    return [(o.state.dossier_id, o.at, tuple(o.alerts)) for o in outputs]


def test_a_leap_of_time_is_visited_in_bounded_steps_with_the_same_outputs() -> None:
    p, dossiers = _dossiers_on_one_partition(40)
    leap = datetime(2026, 1, 20, tzinfo=VN_TZ)  # past every near-deadline and overdue moment
    whole = MergeEngine(POLICY, {}, lambda key: partition_of(key, 12), write_through=False)
    steps = MergeEngine(POLICY, {}, lambda key: partition_of(key, 12), write_through=False, catch_up_limit=7)
    for engine in (whole, steps):
        for d in dossiers:
            engine.on_event(p, received(d))
        _store(engine)
    reference = whole.advance(p, leap)
    assert not whole.behind(p) and len(reference) >= 2 * len(dossiers)  # near-deadline, overdue each

    got, sizes = steps.advance(p, leap), []
    sizes.append(len(got))
    while steps.behind(p) and len(sizes) < 1000:
        _store(steps)  # stored: the budget is a step's again
        more = steps.catch_up(p)
        sizes.append(len(more))
        got += more
    assert max(sizes) <= 7 and len(sizes) >= len(reference) / 7  # a look gives at most one output
    assert sorted(_look_agains(got)) == sorted(_look_agains(reference))
    # each dossier's own moments still in order: near-deadline before overdue
    for d in dossiers:
        assert [a for o in got if o.state.dossier_id == d for a in o.alerts] == ["near_deadline", "overdue"]
    assert steps.catch_up(p) == [] and _store(steps) > 0


def test_an_events_own_dossier_has_its_moments_first_when_the_step_is_spent() -> None:
    p, dossiers = _dossiers_on_one_partition(10)
    engine = MergeEngine(POLICY, {}, lambda key: partition_of(key, 12), write_through=False, catch_up_limit=3)
    for d in dossiers:
        engine.on_event(p, received(d))
    _store(engine)
    # a record of the last dossier, captured after both its moments: its alerts come before it
    late = datetime(2026, 1, 16, 9, 0, tzinfo=VN_TZ)
    done = replace(received(dossiers[-1]), source_event_id="2", event_id="", source_seq=2,
                   status=Status.RESULT_READY, occurred_at=late, ingested_at=late)  # fmt: skip
    outs = engine.on_event(p, done).outputs
    mine = [o for o in outs if o.state.dossier_id == dossiers[-1]]
    assert [a for o in mine for a in o.alerts] == ["near_deadline", "overdue"]
    assert mine[-1].applied and mine[-1].state.status is Status.RESULT_READY
    others = [o for o in outs if o.state.dossier_id != dossiers[-1]]
    assert len(others) == 3 and engine.behind(p)  # the step's budget; the rest wait for a stored step
    assert engine.catch_up(p) == []  # nothing more before the writes are taken
    _store(engine)
    assert len(engine.catch_up(p)) == 3
