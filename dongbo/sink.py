"""``dongbo sink``: a sink process (its consumer group, its metrics, a clean stop on SIGTERM)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry, start_http_server
from redis import Redis
from redis.exceptions import RedisError

from contract.settings import Settings
from dongbo.processes import SINK_READY_MARK
from sinks.redis_sink import LiveFigures, RedisStateSink, keys_for
from sinks.report.rows import sectors_of
from sinks.report.store import ReportSink, StoreUnavailable
from sinks.runner import SinkMetrics, SinkRunner, StateSink
from streams.configured import catalogue

SINKS = (RedisStateSink.name, ReportSink.name)


def build_sink(settings: Settings, name: str) -> StateSink:
    if name not in SINKS:
        raise ValueError(f"no sink {name!r}: choose one of {', '.join(SINKS)}")
    if name == ReportSink.name:
        sink = ReportSink(settings, sectors_of(catalogue(settings.domain)))
        try:
            _ = sink.store  # connect and create the table now: a wrong URL fails at start, not later
        except Exception as exc:  # any connection failure gets the same advice
            cause = exc.__cause__ if isinstance(exc.__cause__, StoreUnavailable) else exc
            raise ValueError(str(cause)) from exc
        return sink
    client = Redis.from_url(settings.redis.url, **settings.redis.auth())
    try:
        client.ping()
    except RedisError as exc:
        raise ValueError(
            f"Redis at {settings.redis.url} does not answer ({exc}): start it (`dongbo stack up`) "
            "or set DONGBO_REDIS_URL"
        ) from exc
    return RedisStateSink(client, keys_for(settings))


def run_sink(settings: Settings, name: str, batch: int, say: Callable[[str], None]) -> None:
    sink = build_sink(settings, name)
    registry = CollectorRegistry()
    if isinstance(sink, RedisStateSink):
        registry.register(LiveFigures(sink.client, sink.keys))
    port = settings.report.web_port if name == ReportSink.name else settings.worker.sink_web_port
    if port:
        start_http_server(port, addr=settings.worker.web_bind, registry=registry)
    runner = SinkRunner(settings, sink, metrics=SinkMetrics(registry), batch=batch)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    where = f", metrics on http://{settings.worker.web_bind}:{port}/metrics" if port else ""
    say(f"{name} {SINK_READY_MARK}: group {runner.group} reads {runner.topic}{where}")
    step = 10_000
    shown = [0]

    def progress(written: int) -> None:
        if written >= shown[0] + step:
            shown[0] = written - written % step
            say(f"{name} sink: {written:,} states written")

    runner.run(stop, progress)
    say(f"{name} sink: stopped after {runner.written:,} states written")
