"""The example consumer of ``dossier.state`` (sinks/examples/state_consumer.py, docs/downstream.md)
against the real broker: the latest version of every dossier, republished and stale records told
apart, offsets committed after processing so a run in the same group resumes where it stopped,
and a new group from the beginning reads everything again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Consumer, Producer

from contract.partitioning import partition_of
from contract.settings import Settings
from contract.topics import topics_for
from schemas import codec
from sinks.examples.state_consumer import Counts, StateFollower, consumer_config, main
from streams.model import Channel, Outcome, Status
from streams.state import DossierState, SourceView

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 08:30 in Hà Nội
WAIT = 60.0  # seconds any one run may take (joining the group, reading to the end)

S = Status
# What the merge might publish, in order: (dossier, version, status, outcome). Versions skip where a
# merge batch coalesced changes; a republished version is the very same state again; an older
# version after a newer one is what a batch redelivered after a crash can produce.
LOG: list[tuple[str, int, Status, Outcome]] = [
    ("D-1", 1, S.RECEIVED, Outcome.PENDING),
    ("D-2", 1, S.SUBMITTED, Outcome.PENDING),
    ("D-1", 2, S.IN_PROGRESS, Outcome.PENDING),
    ("D-3", 1, S.RECEIVED, Outcome.PENDING),
    ("D-1", 2, S.IN_PROGRESS, Outcome.PENDING),  # republished
    ("D-2", 3, S.IN_PROGRESS, Outcome.PENDING),  # version 2 never published (one batch)
    ("D-1", 4, S.RESULT_READY, Outcome.ON_TIME),
    ("D-1", 3, S.SUPPLEMENT_REQUESTED, Outcome.PENDING),  # stale: older, after a newer one
    ("D-4", 1, S.RECEIVED, Outcome.PENDING),
    ("D-2", 3, S.IN_PROGRESS, Outcome.PENDING),  # republished
    ("D-2", 1, S.SUBMITTED, Outcome.PENDING),  # stale
    ("D-4", 2, S.RETURNED, Outcome.ENDED_EARLY),
    ("D-4", 2, S.RETURNED, Outcome.ENDED_EARLY),  # republished
    ("D-5", 1, S.RECEIVED, Outcome.OVERDUE),
]
FINAL = {"D-1": (4, "RESULT_READY", "ON_TIME"), "D-2": (3, "IN_PROGRESS", "PENDING"),
         "D-3": (1, "RECEIVED", "PENDING"), "D-4": (2, "RETURNED", "ENDED_EARLY"),
         "D-5": (1, "RECEIVED", "OVERDUE")}  # fmt: skip
NEW, REPUBLISHED, STALE = 9, 3, 2


def _state(dossier: str, version: int, status: Status, outcome: Outcome) -> bytes:
    """A state record as the merge agent encodes it (``DossierState.to_record`` through the codec)."""
    at = T0 + timedelta(hours=version)
    view = SourceView(source="onestop", status=status, source_status=None, last_occurred_at=at,
                      last_seen_at=at + timedelta(seconds=2), last_seq=version, due_at=None, overdue=None,
                      events=version, unit_code="000.00.15.H17")  # fmt: skip
    state = DossierState(
        dossier_id=dossier, version=version, status=status, procedure_code="1.001193",
        unit_code="000.00.15.H17", channel=Channel.ONLINE, received_at=T0, due_at=T0 + timedelta(days=3),
        outcome=outcome, last_event_at=at, updated_at=at, sources={"onestop": view},
    )  # fmt: skip
    return codec.encode("vn.dongbo.DossierState", state.to_record())


def _publish(settings: Settings, log: list[tuple[str, int, Status, Outcome]]) -> dict[str, set[int]]:
    """Produce ``log`` keyed by dossier id, placed as dongbo places it; returns each key's partitions."""
    producer = Producer({
        **settings.kafka.client_config(),
        "partitioner": "murmur2_random",  # the Java (and aiokafka, Faust) default: dongbo's placement
        "enable.idempotence": True,  # in order per partition, even on a retry
    })  # fmt: skip
    placed: dict[str, set[int]] = {}
    failed: list[str] = []

    def delivered(err: object, msg: object) -> None:
        if err is not None:
            failed.append(str(err))
        else:
            placed.setdefault(msg.key().decode(), set()).add(msg.partition())  # type: ignore[attr-defined]

    topic = topics_for(settings).state
    for dossier, version, status, outcome in log:
        producer.produce(topic, key=dossier.encode(), value=_state(dossier, version, status, outcome),
                         on_delivery=delivered)  # fmt: skip
    assert producer.flush(30) == 0, "records still unacknowledged after 30 s"
    assert not failed, failed
    return placed


def _run(settings: Settings, group: str, from_beginning: bool = True) -> StateFollower:
    """One run of the example in ``group``: read until every partition is at its end (bounded)."""
    consumer = Consumer(consumer_config(settings.kafka.bootstrap, group, from_beginning))
    try:
        follower = StateFollower(consumer, topics_for(settings).state)
        follower.follow(max_seconds=WAIT, stop_at_end=True)
        assert follower.at_end(), f"group {group} did not reach the end of the topic within {WAIT:.0f} s"
    finally:
        consumer.close()
    return follower


def _versions(follower: StateFollower) -> dict[str, tuple[int, str, str]]:
    return {d: (s["version"], s["status"], s["outcome"]) for d, s in follower.latest.items()}


def test_the_example_keeps_the_latest_state_and_resumes_from_its_committed_offsets(settings) -> None:
    placed = _publish(settings, LOG)
    # Every state of a dossier on one partition: the one contract.partitioning computes.
    n = settings.kafka.partitions
    assert placed == {d: {partition_of(d.encode(), n)} for d in FINAL}
    assert len(set().union(*placed.values())) > 1, "the dossiers should spread over several partitions"

    group = f"{settings.worker.app_id}-example"
    first = _run(settings, group)
    assert _versions(first) == FINAL
    assert first.counts == Counts(new=NEW, republished=REPUBLISHED, stale=STALE)
    latest = first.latest["D-1"]
    assert latest["dossier_id"] == "D-1" and latest["updated_at"] == T0 + timedelta(hours=4)
    assert latest["updated_at"].utcoffset() == timedelta(0), "times come back in UTC"

    # The same group again: it resumes from the offsets the first run committed, nothing is new.
    again = _run(settings, group)
    assert again.counts == Counts() and again.latest == {}

    # A new version: the group reads that one record only.
    _publish(settings, [("D-3", 2, S.IN_PROGRESS, Outcome.PENDING)])
    resumed = _run(settings, group)
    assert resumed.counts == Counts(new=1)
    assert _versions(resumed) == {"D-3": (2, "IN_PROGRESS", "PENDING")}

    # A new group from the beginning reads everything again (nothing is compacted yet: the topic's
    # min.compaction.lag.ms keeps a minute of records as they are).
    fresh = _run(settings, f"{group}-fresh")
    assert fresh.counts == Counts(new=NEW + 1, republished=REPUBLISHED, stale=STALE)
    assert _versions(fresh) == {**FINAL, "D-3": (2, "IN_PROGRESS", "PENDING")}


def test_undecodable_records_and_tombstones_are_counted_and_skipped(settings) -> None:
    producer = Producer(settings.kafka.client_config())
    topic = topics_for(settings).state
    producer.produce(topic, key=b"D-9", value=b"not avro")
    producer.produce(topic, key=b"D-9", value=None)
    producer.produce(topic, key=b"D-9", value=_state("D-9", 1, S.RECEIVED, Outcome.PENDING))
    assert producer.flush(30) == 0
    follower = _run(settings, f"{settings.worker.app_id}-example")
    assert follower.counts == Counts(new=1, undecodable=1, tombstones=1)
    assert _versions(follower) == {"D-9": (1, "RECEIVED", "PENDING")}


def test_main_prints_one_line_per_new_state(settings, capsys) -> None:
    _publish(settings, LOG)
    code = main(["--bootstrap", settings.kafka.bootstrap, "--topic", topics_for(settings).state,
                 "--group", f"{settings.worker.app_id}-example-cli", "--from-beginning",
                 "--max-seconds", str(WAIT), "--stop-at-end"])  # fmt: skip
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == NEW
    # Per dossier, in the order published; the last line of each is its latest state.
    last = {line.split()[0]: line for line in lines}
    assert last["D-1"].split()[:4] == ["D-1", "v4", "RESULT_READY", "ON_TIME"]
    assert last["D-1"].endswith("updated 2026-03-02T12:30+07:00"), "times shown in +07:00"
    assert {d: tuple(line.split()[1:4]) for d, line in last.items()} == {
        d: (f"v{v}", status, outcome) for d, (v, status, outcome) in FINAL.items()
    }
