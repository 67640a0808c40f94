"""Bad input reaches dossier.dlq with its reason and bytes; the worker keeps processing good input."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from contract.topics import topics_for
from dongbo.dlq import read_dead_letters, replay
from producers.adapters import build_record, encode_raw
from producers.privacy import Pseudonymiser
from producers.publisher import Publisher
from schemas import codec
from streams.model import VN_TZ, DossierEvent, Status, utcnow
from tests.integration.kafka_util import read_topic, wait_for

pytestmark = pytest.mark.integration

KEY = Pseudonymiser(b"test-key")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=VN_TZ)


def portal(dossier: str, event: str, status: int, when: datetime = T0, **over) -> dict:
    native = {
        "MaSuKien": event, "SoThuTu": 1, "ThoiDiemThayDoi": when, "MaHoSo": dossier, "MaTTHC": "1.001193",
        "SoGiayToChuHoSo": "048090001234", "NgayTiepNhan": T0, "NgayHenTra": T0 + timedelta(days=3),
        "TrangThaiHoSo": status, "KenhThucHien": 2,
    }  # fmt: skip
    return build_record("portal", {**native, **over}, KEY)


def test_each_kind_of_bad_record_is_dead_lettered_and_good_events_still_flow(settings, worker):
    names = topics_for(settings)
    worker()
    src = names.source("portal")
    good = portal("D-GOOD-1", "g1", 2)
    unknown_status = portal("D-BAD-2", "b2", 4)
    unknown_status["TrangThaiHoSo"] = 42
    future = portal("D-BAD-4", "b4", 2, when=utcnow() + timedelta(days=30))
    other_schema = codec.encode("vn.dongbo.DeadLetter", {  # a valid record of the wrong kind
        "reason": "x", "detail": "x", "stage": "x", "source_topic": "x", "partition": 0, "offset": 0,
        "key": None, "value": None, "failed_at": utcnow(), "replayed": 0,
    })  # fmt: skip
    year_2500 = portal("D-BAD-5", "b5", 2, NgayHenTra=datetime(2500, 1, 1, tzinfo=VN_TZ))
    absurd_event = DossierEvent(
        dossier_id="D-BAD", source="portal", source_event_id="x9", status=Status.RECEIVED, occurred_at=T0,
        ingested_at=T0, procedure_code="1.001193", due_at=datetime(2500, 1, 1, tzinfo=VN_TZ),
    )  # fmt: skip
    bad = {
        "undecodable": (src, b"\x00garbage bytes, not avro"),
        "trailing_bytes": (src, encode_raw("portal", good) + b"junk"),
        "implausible_timestamp": (src, encode_raw("portal", year_2500)),
        # straight on the canonical topic (past the normaliser's guard): the merge rejects it
        "merge_rejected": (names.events, codec.encode("vn.dongbo.DossierEvent", absurd_event.to_record())),
        "unknown_status": (src, encode_raw("portal", unknown_status)),
        "future_timestamp": (src, encode_raw("portal", future)),
        "unknown_schema": (src, other_schema),
        # straight on the canonical topic: a DossierEvent header with its body cut short
        "truncated_event": (
            names.events,
            codec.MARKER + codec.current("vn.dongbo.DossierEvent").fingerprint + b"\x02",
        ),
    }
    with Publisher(settings) as pub:
        for topic, value in bad.values():
            pub.send(topic, b"D-BAD", value)
        pub.send(src, "D-GOOD-1", encode_raw("portal", good))

    letters = wait_for(
        lambda: (got := list(read_dead_letters(settings))) and len(got) >= len(bad) and got,
        timeout=60,
        what="every bad record in the DLQ",
    )
    # The normaliser's letters by reason: the merge's letter has a reason of the same name, and the
    # two stages' letters arrive in no fixed order.
    by_reason = {s.letter.reason: s.letter for s in letters if s.letter.stage == "normalise"}
    for reason in (
        "undecodable", "unknown_status", "future_timestamp", "unknown_schema", "trailing_bytes",
        "implausible_timestamp",
    ):  # fmt: skip
        letter = by_reason[reason]
        assert letter.source_topic == src and letter.stage == "normalise"
        assert letter.value == bad[reason][1]  # the raw bytes, kept whole
        assert letter.key == b"D-BAD"
        assert letter.detail
    # a canonical event whose body is cut short, straight on dossier.events, fails in the merge
    merged = [s.letter for s in letters if s.letter.stage == "merge"]
    assert sorted((x.source_topic, x.reason) for x in merged) == [
        (names.events, "merge_rejected"), (names.events, "undecodable"),
    ]  # fmt: skip
    rejected = next(x for x in merged if x.reason == "merge_rejected")
    assert rejected.value == bad["merge_rejected"][1] and "calendar" in rejected.detail

    # The good event published after all of them was processed.
    msgs = read_topic(settings, names.state, lambda m: any(x.key() == b"D-GOOD-1" for x in m), timeout=60)
    state = codec.decode("vn.dongbo.DossierState", next(m for m in msgs if m.key() == b"D-GOOD-1").value())
    assert state["status"] == "RECEIVED"
    assert state["sources"]["portal"]["source_status"] == "2"

    # Replaying a letter after "a fix" (here: the same bytes; the unknown status stays unknown)
    # puts it back through the pipeline and it is dead-lettered again, not lost and not crashing.
    stored = next(s for s in letters if s.letter.reason == "unknown_status")
    assert replay(settings, [stored]) == 1
    wait_for(
        lambda: sum(1 for s in read_dead_letters(settings) if s.letter.reason == "unknown_status") == 2,
        timeout=60,
        what="the replayed letter back in the DLQ",
    )


def test_a_record_as_large_as_the_broker_takes_reaches_the_dlq_whole_and_nothing_stops(settings, worker):
    """The lost-record bug: a 1,048,000-byte source record used to make a dead letter larger than
    the producer's request limit; the send failed, the agent restarted past it, and the record was
    in neither the DLQ nor the state. Now the DLQ topic and the worker's requests take it whole."""
    from confluent_kafka import Producer

    names = topics_for(settings)
    worker()
    big = b"\x00" + bytes(range(256)) * (1_048_000 // 256)
    producer = Producer({**settings.kafka.client_config(), "message.max.bytes": 1_200_000})
    producer.produce(names.source("portal"), key=b"D-HUGE", value=big)
    assert producer.flush(30) == 0
    with Publisher(settings) as pub:  # and a good record after it
        pub.send(names.source("portal"), "D-AFTER-1", encode_raw("portal", portal("D-AFTER-1", "a1", 2)))
    letters = wait_for(
        lambda: [s for s in read_dead_letters(settings) if s.letter.key == b"D-HUGE"], timeout=60,
        what="the large record in the DLQ",
    )  # fmt: skip
    assert letters[0].letter.value == big and letters[0].letter.reason == "undecodable"
    states = read_topic(settings, names.state, lambda m: any(x.key() == b"D-AFTER-1" for x in m), timeout=60)
    assert any(m.key() == b"D-AFTER-1" for m in states)


def test_an_output_the_broker_refuses_stops_the_worker_without_committing_past_its_record(settings, worker):
    """No offset is ever committed past a record whose output was not acknowledged: here the
    dead-letter topic is made to refuse the letter (its size limit lowered), the worker stops at
    once (exit 70, the log says why) and the group's committed offset stays at the record."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

    names = topics_for(settings)
    admin = AdminClient(settings.kafka.client_config())
    entry = ConfigEntry("max.message.bytes", "100000", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource("topic", names.dlq, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(30)
    handle = worker()
    producer = Producer({**settings.kafka.client_config(), "message.max.bytes": 1_200_000})
    delivered: list = []
    producer.produce(names.source("portal"), key=b"D-REFUSED", value=b"\x00" * 300_000,
                     on_delivery=lambda err, msg: delivered.append(msg))  # fmt: skip
    assert producer.flush(30) == 0
    record = delivered[0]
    assert handle.proc is not None
    wait_for(lambda: handle.proc.poll() is not None, timeout=90, what="the worker stops")
    assert handle.proc.returncode == 70
    assert "stopping without committing it" in handle.log()
    consumer = Consumer({**settings.kafka.client_config(), "group.id": settings.worker.app_id})
    try:
        committed = consumer.committed([TopicPartition(record.topic(), record.partition())], timeout=30)[0]
    finally:
        consumer.close()
    assert committed.offset <= record.offset(), (committed.offset, record.offset())
