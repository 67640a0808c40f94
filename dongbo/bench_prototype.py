"""A worker loop without Faust, for ``dongbo bench`` and ``benchmarks/engine_on_confluent.py``.

dongbo's own normaliser and merge engine behind a plain confluent-kafka consumer and producer,
keeping the worker's order per batch: every output (canonical events, states once per dossier,
conflict changes, alerts) sent and acknowledged, then the table's writes sent to a changelog
topic and acknowledged, then the offsets committed. No rebalance handling, no recovery from the
changelog, no timers, no metrics: it measures the cost of the work, not a finished worker, and so
how much of the worker's gap to the ceilings is Faust's per-message machinery (docs/benchmarks.md).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from contract.partitioning import partition_of
from contract.settings import Settings
from contract.sources import SOURCE_SYSTEMS
from contract.topics import topics_for
from dongbo.bench_io import Figure, count_records
from schemas import codec
from streams.agents.merge import Rejected, alert_record, conflict_record, decode_event
from streams.configured import worker_policy
from streams.engine import MergeEngine
from streams.normalise.errors import NormaliseError
from streams.normalise.registry import normalise
from streams.normalise.sources import captured_at, source_of_topic


def published(settings: Settings) -> int:
    """The records on the source topics: what a run must read, counted on the broker."""
    names = topics_for(settings)
    return sum(count_records(settings, names.source(s)) for s in SOURCE_SYSTEMS)


def source_ceiling(settings: Settings, timeout: float) -> Figure:
    """The source topics from the start to their end, each value's Avro decoded, nothing else."""
    names = topics_for(settings)
    expected = published(settings)
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"ceil-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest"})  # fmt: skip
    consumer.subscribe([names.source(s) for s in SOURCE_SYSTEMS])
    count, began, deadline = 0, time.perf_counter(), time.monotonic() + timeout
    try:
        while count < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=5000, timeout=0.5):
                if msg.error() is None:
                    codec.decode_any(msg.value() or b"")
                    count += 1
    finally:
        consumer.close()
    seconds = time.perf_counter() - began
    return Figure("raw ceiling (source topics: confluent-kafka + fastavro)", count, seconds, "records")


def prototype(settings: Settings, timeout: float, batch: int = 1000) -> Figure:
    """Normalise and merge every published record behind confluent-kafka (see the module)."""
    names = topics_for(settings)
    expected = published(settings)
    n = settings.kafka.partitions
    changelog = f"{settings.worker.app_id}-proto-changelog"
    admin = AdminClient(settings.kafka.client_config())
    for fut in admin.create_topics(
        [NewTopic(changelog, n, 1, config={"cleanup.policy": "compact"})]
    ).values():
        fut.result(30)
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"{settings.worker.app_id}-proto",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    producer = Producer({**settings.kafka.client_config(), "linger.ms": 5, "enable.idempotence": True,
                         "queue.buffering.max.messages": 1_000_000})  # fmt: skip
    sources = {names.source(s) for s in SOURCE_SYSTEMS}
    # Every partition assigned by hand, from the start: one consumer, nothing to share, and no
    # group rebalance between it and the records (a subscribed run once read 510 of 512).
    consumer.assign(_every_partition(consumer, [*sorted(sources), names.events]))
    table: dict[bytes, bytes] = {}
    engine = MergeEngine(worker_policy(settings), table, lambda key: partition_of(key, n),
                         expected_sources=settings.worker.expected_sources, write_through=False)  # fmt: skip
    failed: list[Any] = []

    def acked(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(err)

    read = normalised = merged = 0
    offsets: dict[tuple[str, int], set[int]] = {}  # what was read of each source partition
    began, deadline = time.perf_counter(), time.monotonic() + timeout
    try:
        while (read < expected or merged < normalised) and time.monotonic() < deadline:
            msgs = consumer.consume(num_messages=batch, timeout=0.1)
            if not msgs:
                continue
            to_publish: dict[bytes, Any] = {}
            now = datetime.now(UTC)
            for msg in msgs:
                err = msg.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(err)
                    continue
                topic = msg.topic()
                if topic in sources:
                    read += 1
                    offsets.setdefault((topic, msg.partition() or 0), set()).add(msg.offset() or 0)
                    try:
                        event = normalise(source_of_topic(topic), msg.value() or b"",
                                          captured_at(msg.headers() or (), now))  # fmt: skip
                    except NormaliseError:
                        continue  # the worker dead-letters it; not counted as an event
                    key = event.dossier_id.encode()
                    producer.produce(names.events, codec.encode("vn.dongbo.DossierEvent", event.to_record()),
                                     key, partition=partition_of(key, n), on_delivery=acked)  # fmt: skip
                    normalised += 1
                    continue
                decoded = decode_event(msg.key(), msg.value())
                merged += 1
                if isinstance(decoded, Rejected):
                    continue
                for out in engine.on_event(msg.partition() or 0, decoded).outputs:
                    if out.send_state:
                        to_publish[out.key] = out.state
                    for change, items in (("OPENED", out.opened), ("RESOLVED", out.resolved)):
                        for c in items:
                            producer.produce(names.conflicts, conflict_record(out.state, c, change), out.key,
                                             on_delivery=acked)  # fmt: skip
                    for kind in out.alerts:
                        producer.produce(
                            names.deadlines, alert_record(out.state, kind), out.key, on_delivery=acked
                        )
                producer.poll(0)
            for key, state in to_publish.items():
                producer.produce(names.state, codec.encode("vn.dongbo.DossierState", state.to_record()), key,
                                 partition=partition_of(key, n), on_delivery=acked)  # fmt: skip
            producer.flush(60)  # every output acknowledged before the states that record them are stored
            for p, key, raw in engine.take_writes():
                table[key] = raw
                producer.produce(changelog, raw, key, partition=p, on_delivery=acked)
            producer.flush(60)
            if failed:
                raise RuntimeError(f"{len(failed)} output(s) not acknowledged: {failed[0]}")
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    if read < expected or merged < normalised:
        raise RuntimeError(
            f"prototype: {read:,}/{expected:,} read, {merged:,}/{normalised:,} merged in {timeout}s; "
            f"never read: {_unread(settings, offsets)[:10]}"
        )
    return Figure(
        "prototype: normalise + merge on confluent-kafka", read, time.perf_counter() - began, "records"
    )


def _every_partition(consumer: Consumer, topics: list[str]) -> list[TopicPartition]:
    out = []
    for topic in topics:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        if meta.error is not None or not meta.partitions:
            raise RuntimeError(f"topic {topic} has no partitions to read ({meta.error})")
        out += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(meta.partitions)]
    return out


def _unread(settings: Settings, read: dict[tuple[str, int], set[int]]) -> list[tuple[str, int, int]]:
    """(topic, partition, offset) on the source topics that the run never read."""
    names = topics_for(settings)
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"unread-{uuid.uuid4().hex[:8]}"})
    missing = []
    try:
        for topic in (names.source(s) for s in SOURCE_SYSTEMS):
            for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                seen = read.get((topic, p), set())
                missing += [(topic, p, o) for o in range(low, high) if o not in seen]
    finally:
        consumer.close()
    return missing
