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
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from redis import Redis

from contract.settings import Settings
from contract.topics import topics_for
from dongbo.accuracy import truth_end
from dongbo.replay import ReplayResult, replay
from dongbo.watermark import close_replay
from producers.simulator import SimulationConfig, fault_preset, run_simulation
from schemas import codec
from sinks.redis_sink import keys_for
from streams.configured import worker_policy
from tests.integration.kafka_util import read_all, read_topic, wait_for

pytestmark = pytest.mark.integration

CONFIG = SimulationConfig(
    seed=31, dossiers=150, days=4, start=date(2026, 4, 20), tail_days=3, faults=fault_preset("all")
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"worker": settings.worker.model_copy(update={"clock": "stream"})})


def reference(settings: Settings, tmp: Path) -> tuple[ReplayResult, Any]:
    """The run without crashes: the same records through the same engine, in-process."""
    run_simulation(settings, CONFIG, truth_path=tmp / "truth.jsonl", out=tmp / "records")
    end = truth_end(tmp / "truth.jsonl")
    return replay(tmp / "records", worker_policy(settings), settings.kafka.partitions, until=end), end


def ms(when: Any) -> Any:
    """As a record carries it (Avro timestamp-millis)."""
    return when.replace(microsecond=when.microsecond // 1000 * 1000) if when is not None else None


def first_of_each_id(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["id"] in seen:
            assert seen[r["id"]] == r, "one id, two different records"
        else:
            seen[r["id"]] = r
    return list(seen.values())


def test_five_sigkills_on_the_stream_clock_change_nothing(settings: Settings, worker, tmp_path: Path) -> None:
    expected, end = reference(settings, tmp_path / "reference")
    names = topics_for(settings)
    run_simulation(settings, CONFIG)  # the backlog, in Kafka before any worker runs
    rnd = random.Random(5)
    for n in range(5):
        w = worker()
        # Killed somewhere in the merge: after a random number of states, or a random pause.
        states = rnd.randint(50, 600)
        read_topic(settings, names.state, lambda m, k=states: len(m) >= k, timeout=120)
        time.sleep(rnd.uniform(0.0, 2.0))
        w.kill()
        if n == 2:
            shutil.rmtree(settings.worker.data_dir, ignore_errors=True)  # the changelog alone
    worker()
    assert close_replay(settings, end, timeout=300) == 0

    alerts = first_of_each_id(
        [codec.decode("vn.dongbo.DeadlineAlert", m.value()) for m in read_all(settings, names.deadlines)]
    )
    want_alerts = Counter((d, kind, ms(at)) for d, kind, at in expected.alert_log)
    assert Counter((a["dossier_id"], a["kind"], a["at"]) for a in alerts) == want_alerts

    conflicts = first_of_each_id(
        [codec.decode("vn.dongbo.ConflictEvent", m.value()) for m in read_all(settings, names.conflicts)]
    )
    got_seq: dict[tuple[str, str], list[tuple[str, Any, Any]]] = {}
    for c in conflicts:
        key = f"{c['kind']}:{'+'.join(c['systems'])}"
        got_seq.setdefault((c["dossier_id"], key), []).append((c["change"], c["since"], c["at"]))
    want_seq: dict[tuple[str, str], list[tuple[str, Any, Any]]] = {}
    for dossier, change, key, since, at in expected.conflict_log:
        want_seq.setdefault((dossier, key), []).append((change, ms(since), ms(at)))
    assert got_seq == want_seq

    latest: dict[str, dict[str, Any]] = {}
    for m in read_all(settings, names.state):
        rec = codec.decode("vn.dongbo.DossierState", m.value())
        if rec["version"] >= latest.get(rec["dossier_id"], {}).get("version", -1):
            latest[rec["dossier_id"]] = rec
    assert set(latest) == set(expected.states)
    for d, want in expected.states.items():
        got = latest[d]
        assert got["status"] == want["status"], d
        assert got["outcome"] == want["outcome"], d
        assert sorted(c["kind"] for c in got["conflicts"]) == sorted(c["kind"] for c in want["conflicts"]), d
        assert list(got["alerts"]) == list(want["alerts"]), d

    redis = Redis.from_url(settings.redis.url)
    keys = keys_for(settings)
    by_status = Counter(s["status"] or "NONE" for s in expected.states.values())
    wait_for(lambda: int(redis.hget(keys.stats, "all") or 0) == len(expected.states), timeout=60,
             what="Redis counts every dossier")  # fmt: skip
    for status, count in by_status.items():
        assert int(redis.hget(keys.stats, f"status={status}") or 0) == count, status

    # The worker says where each partition's time stands, and that every record came in on its
    # dossier's partition (what the stream time relies on).
    from urllib.request import urlopen

    text = urlopen(f"http://127.0.0.1:{settings.worker.web_port}/metrics", timeout=10).read().decode()
    times = [line for line in text.splitlines() if line.startswith("dongbo_stream_time_seconds{")]
    assert len(times) == settings.kafka.partitions
    assert all(float(line.split()[-1]) >= end.timestamp() - 1 for line in times)
    assert not [line for line in text.splitlines() if line.startswith("dongbo_misrouted_records_total{")]
