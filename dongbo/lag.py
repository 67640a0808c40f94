"""How far a consumer group is behind: the demo and benchmarks wait for the worker to catch up."""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import Consumer, TopicPartition

from contract.settings import Settings


def group_lag(settings: Settings, group: str, topics: list[str]) -> int:
    """Messages in ``topics`` not yet committed by ``group`` (uncommitted partitions count whole)."""
    consumer = Consumer({**settings.kafka.client_config(), "group.id": group, "enable.auto.commit": False})
    try:
        tps = []
        md = consumer.list_topics(timeout=10)
        for t in topics:
            meta = md.topics.get(t)
            if meta is None:
                continue
            tps += [TopicPartition(t, p) for p in meta.partitions]
        committed = {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(tps, timeout=10)}
        lag = 0
        for tp in tps:
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            done = committed.get((tp.topic, tp.partition), -1)
            lag += high - (done if done >= 0 else low)
        return lag
    finally:
        consumer.close()


def wait_caught_up(
    settings: Settings,
    group: str,
    topics: list[str],
    timeout: float,
    progress: Callable[[int], None] | None = None,
    settle: int = 2,
) -> int:
    """Wait until the group's lag is zero ``settle`` times in a row (later stages fill up behind)."""
    deadline = time.monotonic() + timeout
    zeros = 0
    lag = -1
    while time.monotonic() < deadline:
        lag = group_lag(settings, group, topics)
        if progress:
            progress(lag)
        zeros = zeros + 1 if lag == 0 else 0
        if zeros >= settle:
            return 0
        time.sleep(1.0)
    return lag
