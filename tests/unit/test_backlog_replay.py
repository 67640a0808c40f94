"""A backlog read in any order gives what the live order gave (docs/guarantees.md#stream-time).

The same simulated records are merged twice by the worker's engine: in the order the systems sent
them (what a live worker reads), and as a worker catching up on a backlog reads them (each
system's records in order, the systems interleaved in random runs, one system read hours of event
time ahead of another). Alerts, every conflict's open/resolve sequence and the final states must
be the same: the stream time waits for the slowest system, and each dossier is evaluated at its
own moments, on what had been captured by then.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from contract.settings import Settings
from dongbo.accuracy import truth_end
from dongbo.replay import ReplayResult, replay
from producers.simulator import SimulationConfig, fault_preset, run_simulation
from streams.configured import worker_policy

SETTINGS = Settings()


def comparable(state: dict[str, Any]) -> dict[str, Any]:
    """A final state without what depends on how often it was evaluated."""
    return {k: v for k, v in state.items() if k not in ("version", "updated_at")}


def sequences(result: ReplayResult) -> dict[tuple[str, str], list[tuple[str, Any, Any]]]:
    out: dict[tuple[str, str], list[tuple[str, Any, Any]]] = {}
    for dossier, change, key, since, at in result.conflict_log:
        out.setdefault((dossier, key), []).append((change, since, at))
    return out


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    tmp = tmp_path_factory.mktemp("backlog")
    config = SimulationConfig(
        seed=31, dossiers=300, days=10, start=date(2026, 4, 20), tail_days=5, faults=fault_preset("all")
    )
    run_simulation(SETTINGS, config, truth_path=tmp / "truth.jsonl", out=tmp / "records")
    return tmp / "records", truth_end(tmp / "truth.jsonl")


@pytest.fixture(scope="module")
def live(simulated: tuple[Path, Any]) -> ReplayResult:
    records, end = simulated
    return replay(records, worker_policy(SETTINGS), SETTINGS.kafka.partitions, until=end)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_backlog_gives_the_live_outputs(simulated: tuple[Path, Any], live: ReplayResult, seed: int) -> None:
    records, end = simulated
    backlog = replay(records, worker_policy(SETTINGS), SETTINGS.kafka.partitions, until=end,
                     order="backlog", seed=seed)  # fmt: skip
    assert backlog.records == live.records
    assert Counter(backlog.alert_log) == Counter(live.alert_log)
    assert sequences(backlog) == sequences(live)
    assert {d: comparable(s) for d, s in backlog.states.items()} == {
        d: comparable(s) for d, s in live.states.items()
    }
    # Not vacuous: the run fired alerts and opened and resolved conflicts.
    assert {k for _, k, _ in live.alert_log} >= {"near_deadline", "overdue"}
    changes = Counter(change for _, change, *_ in live.conflict_log)
    assert changes["OPENED"] > 10 and changes["RESOLVED"] > 5, changes


def test_each_alert_fires_once_and_each_conflict_alternates(live: ReplayResult) -> None:
    assert len(set((d, k) for d, k, _ in live.alert_log)) == len(live.alert_log)
    for (dossier, key), seq in sequences(live).items():
        changes = [c for c, _, _ in seq]
        assert changes[::2] == ["OPENED"] * len(changes[::2]), (dossier, key, seq)
        assert changes[1::2] == ["RESOLVED"] * len(changes[1::2]), (dossier, key, seq)
        moments = [at for _, _, at in seq]
        assert moments == sorted(moments), (dossier, key, seq)
