"""Read a topic from its beginning to its end as of now (the DLQ, a recount of dossier.state)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from contract.settings import Settings


def partitions_of(settings: Settings, topic: str, timeout: float = 10.0) -> list[int]:
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"dongbo-meta-{uuid.uuid4().hex[:8]}"})
    try:
        md = consumer.list_topics(topic, timeout=timeout).topics[topic]
        if md.error is not None:
            raise RuntimeError(f"topic {topic}: {md.error}")
        return sorted(md.partitions)
    finally:
        consumer.close()


def read_to_end(
    settings: Settings,
    topic: str,
    timeout: float = 10.0,
    purpose: str = "reader",
    partitions: Sequence[int] | None = None,
) -> Iterator[Message]:
    """Every record of ``topic`` (of ``partitions`` only, if given) present when called, in
    offset order within a partition.

    No consumer group is joined or committed (assigned partitions, a throw-away group id), so a
    reader never disturbs the sinks or workers."""
    consumer = Consumer({
        **settings.kafka.client_config(), "group.id": f"dongbo-{purpose}-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False, "enable.partition.eof": True,
    })  # fmt: skip
    try:
        md = consumer.list_topics(topic, timeout=timeout).topics[topic]
        if md.error is not None:
            raise RuntimeError(f"topic {topic}: {md.error}")
        parts = []
        for p in sorted(md.partitions) if partitions is None else partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            if high > low:
                parts.append((p, low, high))
        if not parts:
            return
        consumer.assign([TopicPartition(topic, p, low) for p, low, _ in parts])
        ends = {p: high for p, _, high in parts}
        idle_since = time.monotonic()
        while ends:
            # A short wait: consume() waits its whole timeout for a batch to fill; the last never does.
            msgs = consumer.consume(num_messages=1000, timeout=0.2)
            if not msgs:
                if time.monotonic() - idle_since > timeout:
                    raise TimeoutError(f"{topic}: no record for {timeout:.0f} s before the end was reached")
                continue
            idle_since = time.monotonic()
            for msg in msgs:
                err = msg.error()
                part, off = msg.partition() or 0, msg.offset() or 0
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        ends.pop(part, None)
                        continue
                    raise RuntimeError(str(err))
                if part in ends:
                    yield msg
                if off + 1 >= ends.get(part, 0):
                    ends.pop(part, None)
    finally:
        consumer.close()
