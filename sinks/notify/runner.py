"""The notifier: deadline alerts in, mails and webhook posts to ward officials out.

Two steps in one loop, each durable on its own:
1. **Plan**: alerts read from ``dossier.deadlines`` in the notifier's own consumer group become
   notices in the outbox (Redis); offsets are committed only after that, so a crash re-reads and
   re-plans (same ids: nothing doubled) and never skips an alert.
2. **Deliver**: notices whose time has come (held outside the unit's office hours until its next
   opening) are sent in batches (a digest of near-deadline notices per official and channel,
   overdue ones alone) and marked sent; a refused one stays pending and is retried with
   exponential backoff, forever: a permanently failing channel shows in the metrics and the
   ``DongboNotificationsFailing`` alert, and loses nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from confluent_kafka import Consumer, KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge

from contract.settings import Settings
from contract.topics import topics_for
from schemas import codec
from sinks.closing import close_within
from sinks.notify.channels import Channel, DeliveryError
from sinks.notify.messages import CalendarFor, Notice, batches, plan, render
from sinks.notify.outbox import Outbox
from sinks.notify.subscriptions import Subscription

log = logging.getLogger(__name__)


def notify_group(settings: Settings) -> str:
    return f"{settings.worker.app_id}-notify"


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry, outbox: Outbox) -> None:
        self.notifications = Counter(
            "dongbo_notifications", "Notification messages by channel and result (sent; failed: retried)",
            ["channel", "result"], registry=registry,
        )  # fmt: skip
        self.notices = Counter(
            "dongbo_notices", "Notices planned from alerts (one per dossier, threshold, official, channel), "
            "by whether they wait for office hours (held) or go at once", ["timing"], registry=registry,
        )  # fmt: skip
        self.undecodable = Counter(
            "dongbo_notify_undecodable_alerts", "Alert records the notifier could not decode (skipped)",
            registry=registry,
        )  # fmt: skip
        self.retry_attempts = Gauge(
            "dongbo_notification_retry_attempts", "Failed attempts of the most-retried pending message",
            ["channel"], registry=registry,
        )  # fmt: skip
        pending = Gauge(
            "dongbo_notifications_pending", "Notices waiting (held or retried)", registry=registry
        )
        pending.set_function(lambda: float(outbox.counts()[0]))


class Notifier:
    def __init__(
        self,
        settings: Settings,
        subscriptions: list[Subscription],
        outbox: Outbox,
        channels: dict[str, Channel],
        now: Callable[[], datetime],
        calendar_for: CalendarFor,
        procedure_name: Callable[[str | None, str], str | None],
        metrics: NotifyMetrics | None = None,
    ) -> None:
        self.settings, self.subscriptions, self.outbox = settings, subscriptions, outbox
        self.channels, self.now, self.calendar_for = channels, now, calendar_for
        self.procedure_name = procedure_name
        self.metrics = metrics or NotifyMetrics(CollectorRegistry(), outbox)
        self.topic = topics_for(settings).deadlines
        self.group = notify_group(settings)
        self.sent = 0

    # -- plan ---------------------------------------------------------------------------------

    def plan_records(self, values: list[bytes | None]) -> int:
        """Alert records to notices in the outbox; how many notices were new."""
        notices: list[Notice] = []
        for value in values:
            try:
                alert = codec.decode("vn.dongbo.DeadlineAlert", value or b"")
            except codec.DecodeError as exc:
                self.metrics.undecodable.inc()
                log.warning("skipped an alert record that cannot be decoded: %s", exc)
                continue
            for n in plan(alert, self.subscriptions, self.calendar_for):
                self.metrics.notices.labels("held" if n.send_at > n.moment else "at_once").inc()
                notices.append(n)
        return self.outbox.add(notices)

    # -- deliver ------------------------------------------------------------------------------

    def deliver(self) -> int:
        """Send what is due now; how many notices went out."""
        now = self.now()
        done = 0
        for batch in batches(self.outbox.due(now)):
            first = batch[0]
            channel = self.channels[first.channel]
            message = render(batch, now, self.calendar_for, self.procedure_name, self.settings.notify.link)
            try:
                channel.send(first.address, message, batch_id(batch))
            except DeliveryError as exc:
                attempts = self.outbox.failed(batch)
                delay = min(self.settings.notify.max_backoff, 2.0**attempts)
                self.outbox.retry_at(batch, now + timedelta(seconds=delay))
                self.metrics.notifications.labels(first.channel, "failed").inc()
                self.metrics.retry_attempts.labels(first.channel).set(attempts)
                log.warning("%s (attempt %d; retried in %.0f s)", exc, attempts, delay)
                continue
            self.outbox.sent(batch)
            self.metrics.notifications.labels(first.channel, "sent").inc()
            self.metrics.retry_attempts.labels(first.channel).set(0)
            done += len(batch)
        self.sent += done
        return done

    # -- the loop -----------------------------------------------------------------------------

    def consumer(self) -> Consumer:
        consumer = Consumer({
            **self.settings.kafka.client_config(), "group.id": self.group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "enable.partition.eof": False,
        })  # fmt: skip
        consumer.subscribe([self.topic])
        return consumer

    def run(self, stop: threading.Event, poll: float = 0.5) -> None:
        consumer = self.consumer()
        try:
            while not stop.is_set():
                msgs = consumer.consume(num_messages=500, timeout=poll)
                values: list[bytes | None] = []
                for m in msgs:
                    err = m.error()
                    if err is not None and err.code() != KafkaError._PARTITION_EOF:
                        log.warning("consumer: %s", err)
                    elif err is None:
                        values.append(m.value())
                if values:
                    self.plan_records(values)
                    consumer.commit(asynchronous=False)  # after the notices are durable
                self.deliver()
        finally:
            close_within(consumer, "notifier")


def batch_id(batch: list[Notice]) -> str:
    """One message's id: its notice's, or for a digest the first notice's and the count."""
    return batch[0].id if len(batch) == 1 else f"{batch[0].id}-{len(batch)}"


def procedure_namer(catalogue: Any) -> Callable[[str | None, str], str | None]:
    """The procedure's name in the official's language, from the catalogue (None if unknown)."""

    def name(code: str | None, lang: str) -> str | None:
        if not code or code not in catalogue:
            return None
        proc = catalogue.get(code)
        return str(proc.name_en if lang == "en" and proc.name_en else proc.name)

    return name
