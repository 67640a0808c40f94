"""Publishing to Kafka with an idempotent confluent-kafka producer.

Used as a context manager: delivery reports are polled while producing, failures are counted and
reported (never silently dropped), and everything is flushed on exit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from contract.settings import Settings
from contract.sources import CAPTURED_AT
from contract.topics import Topics, topics_for
from schemas import codec
from streams.model import DossierEvent, utcnow

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    pass


class Publisher:
    """``with Publisher(settings) as pub: pub.send(topic, key, value)``."""

    def __init__(self, settings: Settings, **overrides: Any) -> None:
        self.settings = settings
        self.topics: Topics = topics_for(settings)
        config = {
            **settings.kafka.client_config(),
            # Idempotence: a retry after a lost ack never duplicates a record, and order per
            # partition is kept (acks=all, bounded in-flight requests are implied).
            "enable.idempotence": True,
            # The same partitioner as the worker's (aiokafka, Java): murmur2 of the key. With
            # librdkafka's default (CRC32) one dossier's events would land on two partitions.
            "partitioner": "murmur2_random",
            "linger.ms": 20,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 200_000,
            **overrides,
        }
        self._producer = Producer(config)
        self.delivered = 0
        self.failed = 0
        self._first_error: KafkaError | None = None

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.failed += 1
            self._first_error = self._first_error or err
            log.error("delivery to %s failed: %s", msg.topic(), err)
        else:
            self.delivered += 1

    def send(
        self,
        topic: str,
        key: str | bytes | None,
        value: bytes | None,
        headers: dict[str, str] | None = None,
        partition: int | None = None,
    ) -> None:
        kb = key.encode() if isinstance(key, str) else key
        headers = dict(headers or {})
        # When the record was captured: its ingestion time downstream (a replay passes the original).
        headers.setdefault(CAPTURED_AT, utcnow().isoformat())
        hdrs: list[tuple[str, str | bytes | None]] = [(k, v.encode()) for k, v in headers.items()]
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=kb, headers=hdrs, on_delivery=self._on_delivery,
                    # -1: the partitioner decides (by key); a watermark names each partition itself.
                    partition=-1 if partition is None else partition,
                )  # fmt: skip
                break
            except BufferError:
                # Local queue full: serve delivery reports until there is room (backpressure).
                self._producer.poll(0.1)
        self._producer.poll(0)

    def send_event(self, event: DossierEvent, topic: str | None = None) -> None:
        """A canonical event on ``dossier.events`` (or another topic), keyed by dossier id."""
        self.send(
            topic or self.topics.events,
            event.dossier_id,
            codec.encode("vn.dongbo.DossierEvent", event.to_record()),
            headers={
                "event_id": event.event_id,
                "event_type": "vn.dongbo.DossierEvent",
                "source": event.source,
            },
        )

    def send_events(self, events: Iterable[DossierEvent], topic: str | None = None) -> int:
        n = 0
        for event in events:
            self.send_event(event, topic)
            n += 1
        return n

    def flush(self, timeout: float = 60.0) -> None:
        remaining = self._producer.flush(timeout)
        if remaining:
            raise PublishError(f"{remaining} message(s) still undelivered after {timeout:.0f}s")
        if self._first_error is not None:
            raise PublishError(f"{self.failed} message(s) failed, first error: {self._first_error}")

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.flush()
        except (PublishError, KafkaException):
            if exc_type is None:
                raise
            log.exception("flush after an earlier error failed too")
