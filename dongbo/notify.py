"""``dongbo notify``: the notifier process (sinks/notify): its subscriptions, channels, metrics and
a clean stop on SIGTERM."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server
from redis import Redis
from redis.exceptions import RedisError

from contract.settings import Settings
from dongbo.stack import _split_hostport
from sinks.notify.channels import Channel, SmtpChannel, WebhookChannel
from sinks.notify.outbox import Outbox
from sinks.notify.runner import Notifier, NotifyMetrics, procedure_namer
from sinks.notify.subscriptions import load_subscriptions
from sinks.redis_sink import keys_for
from streams.clock import WallClock
from streams.configured import legal_rules

NOTIFY_READY_MARK = "notifier ready"


def build_notifier(settings: Settings, path: Path | None = None) -> tuple[Notifier, CollectorRegistry]:
    subs = load_subscriptions(path or settings.notify.subscriptions)
    client = Redis.from_url(settings.redis.url, **settings.redis.auth())
    try:
        client.ping()
    except RedisError as exc:
        raise ValueError(f"Redis at {settings.redis.url} does not answer ({exc}): `dongbo stack up`") from exc
    outbox = Outbox(client, keys_for(settings).prefix)
    registry = CollectorRegistry()
    host, port = _split_hostport(settings.notify.smtp)
    channels: dict[str, Channel] = {
        "email": SmtpChannel(host, port, settings.notify.sender),
        "webhook": WebhookChannel(),
    }
    rules = legal_rules(settings.domain)
    clock = WallClock(settings.worker.clock_start)
    names = procedure_namer(rules.catalogue)
    metrics = NotifyMetrics(registry, outbox)
    notifier = Notifier(settings, subs, outbox, channels, clock.now, rules.calendars.for_unit, names, metrics)
    return notifier, registry


def run_notify(settings: Settings, path: Path | None, say: Callable[[str], None]) -> None:
    notifier, registry = build_notifier(settings, path)
    port = settings.notify.web_port
    if port:
        start_http_server(port, addr=settings.worker.web_bind, registry=registry)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    where = f", metrics on http://{settings.worker.web_bind}:{port}/metrics" if port else ""
    say(f"{NOTIFY_READY_MARK}: {len(notifier.subscriptions)} official(s), group {notifier.group} reads "
        f"{notifier.topic}{where}")  # fmt: skip
    notifier.run(stop)
    pending, sent = notifier.outbox.counts()
    say(f"notifier: stopped; {notifier.sent} notice(s) sent by this run, {pending} pending, {sent} in all")
