"""The integration tier: the real Kafka broker and Redis, started once per test session.

The test stack runs on its own ports and data folder (``.stack-test/``), so ``make test`` works
whether or not the demo's stack is up. A service that cannot start is a failure, never a skip.
Each test gets its own topic prefix, consumer group, Redis key prefix and RocksDB folder.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from contract.settings import (
    PROJECT_ROOT,
    KafkaSettings,
    MonitoringSettings,
    RedisSettings,
    ReportSettings,
    Settings,
    StackSettings,
    WorkerSettings,
)
from contract.topics import ensure_topics
from dongbo import stack
from dongbo.processes import SINK_READY_MARK, start_sink, start_worker, tail, wait_ready

TEST_KAFKA = os.environ.get("DONGBO_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
TEST_REDIS = os.environ.get("DONGBO_TEST_REDIS_URL", "redis://127.0.0.1:16379/0")
TEST_POSTGRES = "postgresql://dongbo@127.0.0.1:15432/dongbo"
TEST_PROMETHEUS = "127.0.0.1:19090"
TEST_ALERTMANAGER = "127.0.0.1:19094"  # 19093: the test Kafka's controller
TEST_ALERT_WEBHOOK_PORT = 19099  # tests that follow an alert end to end listen here
TEST_SMTP_PORT = 19025
TEST_PARTITIONS = 4  # fewer than production's 12: many short-lived topics per session


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _free_port() -> int:
    """A free port below the kernel's ephemeral range. One the kernel picks (bind to port 0) is an
    ephemeral port, which an outgoing connection (a Kafka client's) can take before the process
    meant to listen on it starts: a chaos run failed once so (the sink's metrics port)."""
    top = _ephemeral_low() - 1
    for _ in range(500):
        port = random.randint(20000, top)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between 20000 and {top}")


@pytest.fixture(scope="session")
def base_settings() -> Iterator[Settings]:
    settings = Settings(
        kafka=KafkaSettings(bootstrap=TEST_KAFKA, partitions=TEST_PARTITIONS, heap="1g"),
        redis=RedisSettings(url=TEST_REDIS),
        report=ReportSettings(url=TEST_POSTGRES),
        stack=StackSettings(home=PROJECT_ROOT / ".stack-test"),
        # Rules fire without their `for` and Alertmanager sends at once: an alert is followed end
        # to end in seconds (the `for` durations have their own promtool tests).
        monitoring=MonitoringSettings(
            prometheus=TEST_PROMETHEUS, alertmanager=TEST_ALERTMANAGER, scrape_interval=1.0, rule_for="0s",
            alert_webhook=f"http://127.0.0.1:{TEST_ALERT_WEBHOOK_PORT}/alerts",
            smtp=f"127.0.0.1:{TEST_SMTP_PORT}", alert_group_wait=1.0,
        ),
    )  # fmt: skip
    started = [s for s in stack.status(settings) if not s.running]
    if any(s.name == "kafka" for s in started):
        # A fresh broker per session: every test makes its own topics, and a broker kept across
        # many sessions ends up holding thousands of partitions (its heap ran out on 2026-11-30).
        shutil.rmtree(settings.stack.home / "kafka" / "data", ignore_errors=True)
    stack.up(settings, print)
    yield settings
    if started and not os.environ.get("DONGBO_TEST_KEEP_STACK"):
        stack.down(settings, print)


@pytest.fixture
def settings(base_settings: Settings, tmp_path: Path) -> Settings:
    """Settings of one test: its own topics, consumer group, Redis keys and table folder."""
    tag = f"t{uuid.uuid4().hex[:8]}"
    s = base_settings.model_copy(
        update={
            "worker": WorkerSettings(
                app_id=f"dongbo-{tag}",
                data_dir=tmp_path / "worker",
                web_port=_free_port(),
                sink_web_port=_free_port(),
                topic_prefix=f"{tag}.",
            ),
            "report": base_settings.report.model_copy(update={"schema_name": tag, "web_port": _free_port()}),
        }
    )
    ensure_topics(s)
    return s


class WorkerHandle:
    """A worker process, and the Redis sink process beside it (started with the first worker,
    left running across the worker's kills and restarts, as in production)."""

    def __init__(self, settings: Settings, logfile: Path, sink: bool = True) -> None:
        self.settings, self.logfile = settings, logfile
        self.proc: subprocess.Popen[bytes] | None = None
        self.sink_log = logfile.with_name(f"{logfile.stem}-sink.log")
        self.sink: subprocess.Popen[bytes] | None = None
        self.with_sink = sink

    def start(self) -> WorkerHandle:
        if self.with_sink and (self.sink is None or self.sink.poll() is not None):
            since = self.sink_log.stat().st_size if self.sink_log.exists() else 0
            self.sink = start_sink(self.settings, self.sink_log)
            wait_ready(self.sink, self.sink_log, since=since, mark=SINK_READY_MARK)
        since = self.logfile.stat().st_size if self.logfile.exists() else 0
        self.proc = start_worker(self.settings, self.logfile)
        wait_ready(self.proc, self.logfile, since=since)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no shutdown hooks, no final commit
        self.proc.wait(10)

    def leave(self) -> None:
        """Stop the worker cleanly (SIGTERM: it leaves the group), the sink going on."""
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(60)

    def stop(self) -> None:
        for proc in (self.proc, self.sink):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)

    def log(self) -> str:
        return tail(self.logfile, 60) + "\n--- sink ---\n" + tail(self.sink_log, 15)


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[Callable[[], WorkerHandle]]:
    """A factory: ``worker()`` starts a real worker process for this test's settings."""
    handles: list[WorkerHandle] = []

    def make() -> WorkerHandle:
        # One Redis sink for the test (started with the first worker; it outlives their kills).
        h = WorkerHandle(settings, tmp_path / "worker.log", sink=not handles)
        handles.append(h)
        return h.start()

    yield make
    for h in handles:
        h.stop()
