"""Scale-out: workers join and leave one consumer group during a run; nothing lost or doubled.

A simulated city with every fault is published as a backlog, in two parts. One worker starts
merging the first; a second joins (the group rebalances: partitions, their table changelogs and
their stream clocks move to it) and, once it owns partitions, the second part is published, so the
second worker has records to merge whatever the speed of the first; then the first leaves
(SIGTERM: its partitions move back to the second, restored from the changelog). The replay is
closed with ``dongbo watermark``. The states, conflicts, alerts and Redis figures must equal those
of the same records merged in-process without interruption.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path
from urllib.request import urlopen

import pytest

from contract.settings import Settings
from dongbo.replay import records_in_send_order
from dongbo.watermark import close_replay
from producers.simulator.sinks import KafkaSink, OutRecord
from tests.integration.conftest import WorkerHandle, _free_port
from tests.integration.kafka_util import wait_for
from tests.integration.replay_check import CONFIG, assert_same_outputs, reference

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"worker": settings.worker.model_copy(update={"clock": "stream"})})


def metric_lines(settings: Settings, name: str) -> list[str]:
    """This worker's samples of metric ``name`` (its own metrics endpoint)."""
    text = urlopen(f"http://127.0.0.1:{settings.worker.web_port}/metrics", timeout=10).read().decode()
    return [line for line in text.splitlines() if line.startswith(name + "{")]


def events_merged(settings: Settings) -> float:
    """Events this worker has merged so far."""
    return sum(float(line.split()[-1]) for line in metric_lines(settings, "dongbo_events_total"))


def owns_partitions(settings: Settings) -> bool:
    """This worker has been assigned input partitions (its lag gauge has a series per one it owns)."""
    return bool(metric_lines(settings, "dongbo_consumer_lag_records"))


def publish(settings: Settings, records: list[OutRecord]) -> None:
    with contextlib.closing(KafkaSink(settings)) as sink:
        for r in records:
            sink.send(r.system, r.key, r.value, r.headers, r.deliver_at)


def test_a_worker_added_and_one_removed_during_a_run_change_nothing(
    settings: Settings, worker, tmp_path: Path
) -> None:
    config = replace(CONFIG, dossiers=400)
    expected, end = reference(settings, tmp_path / "reference", config)
    records = list(records_in_send_order(tmp_path / "reference" / "records"))
    # The first part alone outlasting the second worker's start would race the machine's speed
    # (CI once merged it all first): the second part waits for the second worker.
    split = len(records) // 2
    publish(settings, records[:split])
    first = worker()
    # The second joins a group that is merging (a worker may take longer to start than another).
    wait_for(lambda: events_merged(settings) > 0, timeout=120, what="the first worker merges")

    # A second worker of the same group (its own table folder and metrics port) joins while the
    # first is merging: the partitions are shared, each with its table and stream clock.
    second_settings = settings.model_copy(update={"worker": settings.worker.model_copy(
        update={"data_dir": tmp_path / "second", "web_port": _free_port()})})  # fmt: skip
    second = WorkerHandle(second_settings, tmp_path / "second.log", sink=False).start()
    try:
        wait_for(lambda: owns_partitions(second_settings), timeout=120, what="the second worker's partitions")
        publish(settings, records[split:])
        wait_for(lambda: events_merged(second_settings) > 0, timeout=120, what="the second worker merges")
        first.leave()  # every partition is the second worker's now, restored from the changelog
        assert close_replay(second_settings, end, timeout=300) == 0
        assert_same_outputs(settings, expected)
    finally:
        second.stop()
