"""Deadline alerts on the real broker: fired by the clock with no further event, once, also
across a worker restart. The worker's wall clock is started a few seconds before the due time."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from contract.settings import Settings
from contract.topics import topics_for
from producers.publisher import Publisher
from schemas import codec
from streams.model import VN_TZ, Channel, DossierEvent, Status
from tests.integration.kafka_util import read_topic

pytestmark = pytest.mark.integration

# Copy of a civil-status extract (1.001766): 4 working hours. Received at the counter on
# Wednesday 4 March 2026 at 08:00, due at 13:30 (07:30–11:30, then 13:00–13:30).
RECEIVED = datetime(2026, 3, 4, 8, 0, tzinfo=VN_TZ)
DUE = datetime(2026, 3, 4, 13, 30, tzinfo=VN_TZ)
START = DUE - timedelta(seconds=4)  # the worker's clock starts 4 s before the due time


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No alert grace: these tests put the clock seconds from the due time.
    worker = settings.worker.model_copy(
        update={"clock_start": START, "tick_interval": 0.5, "alert_grace": 0.0}
    )
    return settings.model_copy(update={"worker": worker})


def received(dossier: str, channel: Channel = Channel.COUNTER, **kw) -> DossierEvent:
    return DossierEvent(
        dossier_id=dossier, source="onestop", source_event_id=f"{dossier}-rcv", source_seq=1,
        status=Status.RECEIVED, occurred_at=RECEIVED, ingested_at=START, procedure_code="1.001766",
        unit_code="000.00.15.H17", channel=channel, **kw,
    )  # fmt: skip


def alerts(messages) -> list[tuple[str, str]]:
    return [
        (r["dossier_id"], r["kind"])
        for r in (codec.decode("vn.dongbo.DeadlineAlert", m.value()) for m in messages)
    ]


def test_near_then_overdue_with_no_further_event_once_each_even_after_a_restart(settings, worker):
    names = topics_for(settings)
    w = worker()
    ended = DossierEvent(
        dossier_id="ENDED", source="onestop", source_event_id="ENDED-done", source_seq=2,
        status=Status.RESULT_READY, occurred_at=DUE - timedelta(minutes=5), ingested_at=START,
    )  # fmt: skip
    with Publisher(settings) as pub:
        pub.send_events([received("OPEN"), received("ENDED"), ended])

    msgs = read_topic(settings, names.deadlines, lambda m: ("OPEN", "overdue") in alerts(m), timeout=60)
    got = alerts(msgs)
    assert got.count(("OPEN", "near_deadline")) == 1
    assert got.count(("OPEN", "overdue")) == 1
    # A dossier that ended before its due time is never overdue (its near alert had fired already).
    assert ("ENDED", "overdue") not in got
    first = codec.decode(
        "vn.dongbo.DeadlineAlert", next(m for m in msgs if alerts([m]) == [("OPEN", "overdue")]).value()
    )
    assert first["due_at"] == DUE
    # Its moment, not the wall time it was noticed: overdue once past due (1 µs past, in millis).
    assert first["at"] == DUE

    # Restart the worker: the fired alerts are part of the changelogged state, so none fires again.
    w.stop()
    worker()
    with Publisher(settings) as pub:  # and a late duplicate of the receipt changes nothing either
        pub.send_events([received("OPEN")])
    again = alerts(read_topic(settings, names.deadlines, lambda m: len(m) >= len(got), timeout=30))
    assert sorted(again) == sorted(got)


def test_alerts_fire_once_across_a_rebalance(settings, worker, tmp_path):
    """A second worker joins while alerts are due: partitions (and their tables) move, and every
    dossier still gets each alert exactly once."""
    from tests.integration.conftest import WorkerHandle, _free_port

    names = topics_for(settings)
    soon = settings.model_copy(
        update={"worker": settings.worker.model_copy(update={"clock_start": DUE - timedelta(seconds=20)})}
    )
    first = WorkerHandle(soon, tmp_path / "first.log").start()
    dossiers = [f"REBAL-{i:02d}" for i in range(16)]
    try:
        with Publisher(soon) as pub:
            pub.send_events([received(d) for d in dossiers])
        read_topic(soon, names.deadlines, lambda m: len(alerts(m)) >= len(dossiers), timeout=60)
        other = soon.model_copy(
            update={
                "worker": soon.worker.model_copy(
                    update={"data_dir": tmp_path / "second", "web_port": _free_port()}
                )
            }
        )
        second = WorkerHandle(
            other, tmp_path / "second.log", sink=False
        ).start()  # the first's sink serves both
        try:
            want = {(d, k) for d in dossiers for k in ("near_deadline", "overdue")}
            msgs = read_topic(soon, names.deadlines, lambda m: want <= set(alerts(m)), timeout=120)
            # A little longer: a duplicate would come now if it came at all.
            msgs = read_topic(soon, names.deadlines, lambda m: len(m) >= len(msgs), timeout=30)
            import time

            time.sleep(5)
            final = alerts(read_topic(soon, names.deadlines, lambda m: len(m) >= len(msgs), timeout=30))
            counts = {pair: final.count(pair) for pair in want}
            assert set(counts.values()) == {1}, {p: n for p, n in counts.items() if n != 1}
            assert len(final) == len(want)
        finally:
            second.stop()
    finally:
        first.stop()


def test_a_completion_waiting_in_the_backlog_is_read_before_the_clock_moves_on(settings, tmp_path):
    """The worker stops before the due time; while it is down the dossier is completed (the record
    waits in Kafka); it restarts an hour after the due time. Its partition's time moves to now only
    once the backlog is read: no overdue alert for the dossier completed on time, and one for the
    dossier that was not (the clock did move). With the default alert grace."""
    from tests.integration.conftest import WorkerHandle

    names = topics_for(settings)

    def at(start: datetime) -> Settings:
        ws = settings.worker.model_copy(
            update={"clock_start": start, "tick_interval": 0.5, "alert_grace": 900.0}
        )
        return settings.model_copy(update={"worker": ws})

    before = WorkerHandle(at(RECEIVED + timedelta(minutes=1)), tmp_path / "before.log").start()
    try:
        with Publisher(settings) as pub:
            pub.send_events([replace(received("DONE"), ingested_at=RECEIVED),
                             replace(received("LATE"), ingested_at=RECEIVED)])  # fmt: skip
        read_topic(settings, names.state, lambda m: len({x.key() for x in m}) >= 2, timeout=60)
    finally:
        before.stop()
    done = DossierEvent(
        dossier_id="DONE", source="onestop", source_event_id="DONE-done", source_seq=2,
        status=Status.RESULT_READY, occurred_at=DUE - timedelta(minutes=30),
        ingested_at=DUE - timedelta(minutes=30),
    )  # fmt: skip
    with Publisher(settings) as pub:
        pub.send_events([done])  # captured while the worker is down: a backlog of one
    after = WorkerHandle(at(DUE + timedelta(hours=1)), tmp_path / "after.log").start()
    try:
        msgs = read_topic(settings, names.deadlines, lambda m: ("LATE", "overdue") in alerts(m), timeout=60)
        assert ("DONE", "overdue") not in alerts(msgs)
        states = [codec.decode("vn.dongbo.DossierState", m.value()) for m in read_topic(
            settings, names.state, lambda m: any(x.key() == b"DONE" for x in m), timeout=10)]  # fmt: skip
        assert [s["outcome"] for s in states if s["dossier_id"] == "DONE"][-1] == "ON_TIME"
    finally:
        after.stop()
