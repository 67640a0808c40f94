"""SIGKILL during the merge, on the stream clock: nothing lost, nothing evaluated twice differently.

A simulated city with every fault is published before the worker starts (a backlog), then merged
by a worker killed five times at random points (once with its RocksDB folder deleted, so the
table and the stream time come back from the changelog alone), and the replay is closed with
``dongbo watermark``. What it published must equal what the same records give merged in-process
without a crash (``dongbo.replay``, the engine the worker runs): the final states (less version
and update time), every alert (one per id: at least once, the same id when repeated), every
conflict's open/resolve sequence, and the Redis figures.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import pytest

from contract.settings import Settings
from contract.topics import topics_for
from dongbo.watermark import close_replay
from producers.simulator import run_simulation
from tests.integration.kafka_util import read_topic
from tests.integration.replay_check import CONFIG, assert_same_outputs, reference

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"worker": settings.worker.model_copy(update={"clock": "stream"})})


def test_five_sigkills_on_the_stream_clock_change_nothing(settings: Settings, worker, tmp_path: Path) -> None:
    expected, end = reference(settings, tmp_path / "reference")
    names = topics_for(settings)
    run_simulation(settings, CONFIG)  # the backlog, in Kafka before any worker runs
    rnd = random.Random(5)
    for n in range(5):
        w = worker()
        # Killed somewhere in the merge: after a random number of states, or a random pause.
        states = rnd.randint(20, 250)  # cumulative: each dossier's state is published once per batch
        read_topic(settings, names.state, lambda m, k=states: len(m) >= k, timeout=120)
        time.sleep(rnd.uniform(0.0, 2.0))
        w.kill()
        if n == 2:
            shutil.rmtree(settings.worker.data_dir, ignore_errors=True)  # the changelog alone
    worker()
    assert close_replay(settings, end, timeout=300) == 0

    assert_same_outputs(settings, expected)

    # The worker says where each partition's time stands, and that every record came in on its
    # dossier's partition (what the stream time relies on).
    from urllib.request import urlopen

    text = urlopen(f"http://127.0.0.1:{settings.worker.web_port}/metrics", timeout=10).read().decode()
    times = [line for line in text.splitlines() if line.startswith("dongbo_stream_time_seconds{")]
    assert len(times) == settings.kafka.partitions
    assert all(float(line.split()[-1]) >= end.timestamp() - 1 for line in times)
    assert not [line for line in text.splitlines() if line.startswith("dongbo_misrouted_records_total{")]
