"""Small helpers for reading topics in integration tests (confluent-kafka, real broker)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError

from contract.settings import Settings


def read_topic(
    settings: Settings,
    topic: str,
    until: Callable[[list[Any]], bool],
    timeout: float = 60.0,
) -> list[Any]:
    """Read ``topic`` from the beginning until ``until(messages)`` holds; fail after ``timeout``."""
    consumer = Consumer(
        {
            **settings.kafka.client_config(),
            "group.id": f"test-reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            # A batch at a time: ``until`` may look at every message read so far.
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise RuntimeError(msg.error())
                messages.append(msg)
            if until(messages):
                return messages
    finally:
        consumer.close()
    raise AssertionError(f"condition not met on {topic} within {timeout}s; read {len(messages)} message(s)")


def wait_for(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")


def read_all(settings: Settings, topic: str, timeout: float = 60.0) -> list[Any]:
    """Every message of ``topic`` now in Kafka: read until the end offsets of all its partitions."""
    from confluent_kafka import TopicPartition

    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"test-reader-{uuid.uuid4().hex[:8]}"})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        ends = {}
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
    finally:
        consumer.close()

    def done(messages: list[Any]) -> bool:
        last: dict[int, int] = {}
        for m in messages:
            last[m.partition()] = max(last.get(m.partition(), -1), m.offset())
        return all(last.get(p, -1) >= end - 1 for p, end in ends.items())

    return read_topic(settings, topic, done, timeout=timeout)
