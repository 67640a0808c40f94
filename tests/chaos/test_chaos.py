"""Crash and fault tests on the real stack (``make test-chaos``, docs/guarantees.md#chaos).

Each test publishes a simulated city with every fault as a backlog, merges it through real worker
and sink processes while something goes wrong, closes the replay with ``dongbo watermark`` and then
compares everything published with the same records merged in-process without interruption
(``tests.integration.replay_check``): the final states, every alert (one per id), every
conflict's open/resolve sequence, the Redis figures; and ``stats verify`` recounts both stores
(Redis, the reporting store) from ``dossier.state``. Nothing lost, nothing doubled.

Size: ``DONGBO_CHAOS_DOSSIERS`` (default 600: about 5,500 records and 6,000 events, a few minutes).
The issue's long run (200,000 events) is ``DONGBO_CHAOS_DOSSIERS=22000``.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from urllib.request import urlopen

import pytest
from confluent_kafka import KafkaException

from contract.settings import Settings
from contract.sources import SOURCE_SYSTEMS
from contract.topics import topics_for
from dongbo import stack
from dongbo.lag import group_lag, wait_caught_up
from dongbo.processes import stop
from dongbo.stats import verify
from dongbo.watermark import close_replay
from producers.simulator import run_simulation
from sinks.redis_sink import redis_sink_group
from sinks.runner import sink_group
from tests.integration.kafka_util import read_topic
from tests.integration.replay_check import CONFIG, assert_same_outputs, reference
from tests.integration.test_statistics import _report_sink

pytestmark = pytest.mark.integration

DOSSIERS = int(os.environ.get("DONGBO_CHAOS_DOSSIERS", "600"))
CHAOS = replace(CONFIG, dossiers=DOSSIERS, days=max(CONFIG.days, DOSSIERS // 150))
# Bounds in seconds that grow with the run: a worker merges about 300 records/s on this machine,
# so the 200,000-event run needs more than ten minutes to finish after its last kill.
CLOSE_WITHIN = max(600, DOSSIERS // 8)
READ_WITHIN = max(300, DOSSIERS // 16)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"worker": settings.worker.model_copy(update={"clock": "stream"})})


def verified(settings: Settings) -> None:
    """Both stores equal a recount of ``dossier.state``."""
    result = verify(settings, lambda _m: None)
    assert not result.problems, result.problems[:10]
    assert result.dossiers >= DOSSIERS * 0.9


def states_seen(settings: Settings, count: int) -> None:
    read_topic(settings, topics_for(settings).state, lambda m: len(m) >= count, timeout=READ_WITHIN)


def caught_up_and_verified(settings: Settings, sink: subprocess.Popen[bytes], tmp_path: Path) -> None:
    """The reporting sink reads to the end and stops on SIGTERM, then both stores equal a recount
    of ``dossier.state``."""
    try:
        state = [topics_for(settings).state]
        assert wait_caught_up(settings, sink_group(settings, "report"), state, timeout=READ_WITHIN) == 0
    finally:
        stop(sink, tmp_path / "report-sink.log")
    verified(settings)


def test_ten_sigkills_during_a_replay_change_nothing(settings: Settings, worker, tmp_path: Path) -> None:
    expected, end = reference(settings, tmp_path / "reference", CHAOS)
    run_simulation(settings, CHAOS)
    sink = _report_sink(settings, tmp_path)
    rnd = random.Random(10)
    marks = sorted(rnd.sample(range(DOSSIERS // 10, DOSSIERS * 2), 10))
    for n, mark in enumerate(marks):
        w = worker()
        states_seen(settings, mark)  # cumulative: killed further into the merge each time
        time.sleep(rnd.uniform(0.0, 1.5))
        w.kill()
        if n % 4 == 3:  # the worker's folder lost too: table and stream time from the changelog alone
            shutil.rmtree(settings.worker.data_dir, ignore_errors=True)
    worker()
    assert close_replay(settings, end, timeout=CLOSE_WITHIN) == 0
    assert_same_outputs(settings, expected)
    caught_up_and_verified(settings, sink, tmp_path)


def test_the_broker_restarted_mid_stream_loses_nothing(settings: Settings, worker, tmp_path: Path) -> None:
    expected, end = reference(settings, tmp_path / "reference", CHAOS)
    run_simulation(settings, CHAOS)
    sink = _report_sink(settings, tmp_path)
    w = worker()
    states_seen(settings, DOSSIERS // 3)
    stack.down(settings, print, ["kafka"])  # SIGTERM: shut down as an operator's restart does
    time.sleep(3)
    stack.up(settings, print, ["kafka"])
    # A worker that stopped while the broker was away (fail-stop) is restarted, as its supervisor
    # (systemd, Docker, Kubernetes) would.
    names = topics_for(settings)
    inputs = [names.source(s) for s in SOURCE_SYSTEMS] + [names.events]
    deadline = time.monotonic() + 300
    restarts = 0
    while time.monotonic() < deadline:
        if w.proc is not None and w.proc.poll() is not None:
            w, restarts = worker(), restarts + 1
        try:
            if group_lag(settings, settings.worker.app_id, inputs) == 0:
                break
        except KafkaException:  # the group's coordinator is moving back after the restart
            pass
        time.sleep(2)
    print(f"worker restarts after the broker's: {restarts}")
    assert close_replay(settings, end, timeout=CLOSE_WITHIN) == 0
    assert_same_outputs(settings, expected)
    caught_up_and_verified(settings, sink, tmp_path)


def test_redis_killed_mid_stream_is_refilled_by_its_sink_and_verified(
    settings: Settings, worker, tmp_path: Path
) -> None:
    expected, end = reference(settings, tmp_path / "reference", CHAOS)
    run_simulation(settings, CHAOS)
    sink = _report_sink(settings, tmp_path)
    worker()
    states_seen(settings, DOSSIERS // 3)
    pid = stack.Redis(settings, print).pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # what was not snapshotted is lost
    time.sleep(5)  # the Redis sink's writes fail meanwhile; it retries from the same offsets
    stack.up(settings, print, ["redis"])
    assert close_replay(settings, end, timeout=CLOSE_WITHIN) == 0
    state = [topics_for(settings).state]
    assert wait_caught_up(settings, sink_group(settings, "report"), state, timeout=READ_WITHIN) == 0
    # What Redis lost before its last snapshot the sink's offsets had moved past: the sink saw
    # Redis come back (a new run id) and read the state topic again from its beginning.
    assert wait_caught_up(settings, redis_sink_group(settings), state, timeout=READ_WITHIN) == 0
    metrics = urlopen(f"http://127.0.0.1:{settings.worker.sink_web_port}/metrics", timeout=10).read().decode()
    assert 'dongbo_sink_store_restarts_total{sink="redis"} 1.0' in metrics
    assert_same_outputs(settings, expected)
    caught_up_and_verified(settings, sink, tmp_path)
