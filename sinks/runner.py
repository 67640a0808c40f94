"""A state sink in its own process and consumer group: ``dossier.state`` in, batched writes out.

The merge worker publishes states and goes on; each sink reads them at its own pace in a group
of its own (``<app id>-sink-<name>``), so a slow or failing sink never slows the merge, and a
sink can be restarted, rebuilt or scaled without touching the worker.

At least once: a batch's offsets are committed only after the sink has written the batch. A
sink is version-guarded (an older or repeated state changes nothing), so a batch written again
after a crash is harmless. A write that fails is retried from the same offsets with backoff: no
state is skipped, and the consumer keeps polling so the group does not drop it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Histogram

from contract.settings import Settings
from contract.topics import topics_for
from schemas import codec
from sinks.closing import close_within

log = logging.getLogger(__name__)

IDLE_LOOK = 5.0  # seconds: with nothing to write, how often to ask the store whether it lost writes


class StateSink(Protocol):
    name: str  # bounded metric label, and part of the consumer group's name
    retryable: tuple[type[Exception], ...]  # errors of its store (down, refused): retried, not raised

    def write(self, states: Sequence[dict[str, Any]]) -> int:
        """Write a batch of ``DossierState`` records; return how many were newer than stored."""

    def lost_since_last_look(self) -> bool:
        """True (once) when the store may have lost writes already committed past since the last
        call (a cache restarted from an older snapshot): the runner then reads the topic again."""


def sink_group(settings: Settings, sink_name: str) -> str:
    return f"{settings.worker.app_id}-sink-{sink_name}"


class SinkMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.writes = Counter(
            "dongbo_sink_writes", "States offered to a sink, by sink and result (written, stale)",
            ["sink", "result"], registry=registry,
        )  # fmt: skip
        self.errors = Counter(
            "dongbo_sink_errors", "Failed sink writes (each retried from the same offsets)", ["sink"],
            registry=registry,
        )  # fmt: skip
        self.undecodable = Counter(
            "dongbo_sink_undecodable_records", "State records a sink could not decode (skipped)", ["sink"],
            registry=registry,
        )  # fmt: skip
        self.reread = Counter(
            "dongbo_sink_store_restarts", "Times a sink's store came back with less (the topic read again)",
            ["sink"], registry=registry,
        )  # fmt: skip
        self.batch_seconds = Histogram(
            "dongbo_sink_batch_seconds", "Time to write one batch, by sink", ["sink"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5), registry=registry,
        )  # fmt: skip


class SinkRunner:
    def __init__(
        self,
        settings: Settings,
        sink: StateSink,
        *,
        metrics: SinkMetrics | None = None,
        batch: int = 500,
        within: float = 0.2,
        max_backoff: float = 30.0,
    ) -> None:
        self.settings, self.sink, self.batch, self.within = settings, sink, batch, within
        self.metrics = metrics or SinkMetrics(CollectorRegistry())
        self.max_backoff = max_backoff
        self.topic = topics_for(settings).state
        self.group = sink_group(settings, sink.name)
        self.written = 0

    def run(self, stop: threading.Event, progress: Callable[[int], None] | None = None) -> None:
        """Consume until ``stop`` is set; commit after every batch written."""
        consumer = Consumer({
            **self.settings.kafka.client_config(), "group.id": self.group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        })  # fmt: skip
        consumer.subscribe([self.topic], on_assign=self._assigned)
        backoff = 0.0
        looked = time.monotonic()  # when the store was last asked whether it lost writes
        try:
            while not stop.is_set():
                msgs = consumer.consume(num_messages=self.batch, timeout=self.within)
                idle_look = not msgs and time.monotonic() - looked > IDLE_LOOK
                if not msgs and not idle_look:
                    continue
                try:
                    looked = time.monotonic()
                    if self.sink.lost_since_last_look():
                        self._read_again(consumer)
                        continue
                    if not msgs:
                        continue
                    self._write(msgs)
                except self.sink.retryable as exc:  # its store is down or refused: retry, lose nothing
                    self.metrics.errors.labels(self.sink.name).inc()
                    backoff = min(self.max_backoff, max(0.5, backoff * 2))
                    log.error("%s sink: write failed (%s: %s); retrying in %.1f s from the same offsets",
                              self.sink.name, type(exc).__name__, exc, backoff)  # fmt: skip
                    _rewind(consumer, msgs)
                    stop.wait(backoff)
                    continue
                backoff = 0.0
                try:
                    consumer.commit(asynchronous=False)
                except KafkaException as exc:
                    # A rebalance took the partitions meanwhile: their next owner reads the batch
                    # again, which the version guard makes harmless.
                    log.warning(
                        "%s sink: commit failed (%s); the batch may be written again", self.sink.name, exc
                    )
                if progress is not None:
                    progress(self.written)
        finally:
            close_within(consumer, f"{self.sink.name} sink")

    def _read_again(self, consumer: Consumer) -> None:
        """The store came back with less than the committed offsets say it has (Redis restarted
        from its last snapshot): every assigned partition from its beginning. The writes are
        version-guarded, so what the store kept is left as it is and what it lost comes back."""
        assigned = consumer.assignment()
        log.warning("%s sink: the store restarted and may have lost writes; reading %s again from "
                    "its beginning (%d partitions)", self.sink.name, self.topic, len(assigned))  # fmt: skip
        self.metrics.reread.labels(self.sink.name).inc()
        for tp in assigned:
            consumer.seek(TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING))

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("%s sink: reading %s partitions %s (group %s)", self.sink.name, self.topic,
                 sorted(tp.partition for tp in partitions), self.group)  # fmt: skip

    def _write(self, msgs: list[Message]) -> None:
        states = []
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError(f"consumer error: {err}")
            try:
                states.append(codec.decode("vn.dongbo.DossierState", msg.value() or b""))
            except codec.DecodeError as exc:
                # Only dongbo writes this topic: a bad record is a bug, but it must not stop the
                # sink (the merge republishes the dossier on its next change).
                log.error("%s sink: undecodable state record skipped (%s[%s]@%s): %s", self.sink.name,
                          msg.topic(), msg.partition(), msg.offset(), exc)  # fmt: skip
                self.metrics.undecodable.labels(self.sink.name).inc()
        began = time.perf_counter()
        written = self.sink.write(states) if states else 0
        self.metrics.batch_seconds.labels(self.sink.name).observe(time.perf_counter() - began)
        self.metrics.writes.labels(self.sink.name, "written").inc(written)
        self.metrics.writes.labels(self.sink.name, "stale").inc(len(states) - written)
        self.written += written


def _rewind(consumer: Consumer, msgs: list[Message]) -> None:
    """Back to each partition's first offset of a batch that was not written."""
    first: dict[tuple[str, int], int] = {}
    for msg in msgs:
        key = (msg.topic() or "", msg.partition() or 0)
        offset = msg.offset() or 0
        if msg.error() is None and (key not in first or offset < first[key]):
            first[key] = offset
    for (topic, partition), offset in first.items():
        consumer.seek(TopicPartition(topic, partition, offset))
