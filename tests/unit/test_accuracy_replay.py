"""The engine against the simulator's truth, in-process: every record normalised and merged by the
same ``MergeEngine`` the worker runs (stream clock, per-partition watermarks), then scored.

These runs are small enough for every commit; the month-long runs through the real broker are in
``docs/accuracy.md``. A miss here is a bug in the engine (or in the truth), never a figure.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from contract.settings import Settings
from dongbo.accuracy import read_truth, render, score, truth_end
from dongbo.replay import replay
from producers.simulator import SimulationConfig, fault_preset, run_simulation
from streams.configured import worker_policy

SETTINGS = Settings()


def run(tmp: Path, config: SimulationConfig) -> tuple[Path, Path]:
    truth, out = tmp / "truth.jsonl", tmp / "records"
    run_simulation(SETTINGS, config, truth_path=truth, out=out)
    return truth, out


@pytest.mark.parametrize(
    ("seed", "start", "faults"),
    [
        (2, date(2026, 1, 5), "all"),  # New Year's swap, Tết's approach, every fault
        (5, date(2026, 2, 9), "all"),  # across Tết
        (8, date(2026, 4, 20), "all"),  # 30/4–1/5 and an apology letter or two
        (3, date(2026, 8, 24), "default"),  # Quốc khánh with its make-up Saturday
    ],
)
def test_engine_scores_perfect_against_the_truth(tmp_path: Path, seed: int, start: date, faults: str) -> None:
    config = SimulationConfig(
        seed=seed, dossiers=400, days=30, start=start, tail_days=10, faults=fault_preset(faults)
    )
    truth_path, out = run(tmp_path, config)
    end = truth_end(truth_path)
    assert end is not None
    result = replay(out, worker_policy(SETTINGS), SETTINGS.kafka.partitions, until=end)
    assert not result.dead_letters, result.dead_letters
    truths = list(read_truth(truth_path))
    s = score(truths, result.states, end)
    assert s.dossiers == 400 and not s.missing
    assert s.perfect, render(s)
    # Not vacuous: the run did put every kind of discrepancy and conflict to the test.
    if faults == "all":
        kinds = {k for k, pr in s.discrepancies.items() if pr.tp} | {
            k for k, pr in s.conflicts.items() if pr.tp
        }
        assert {"calendar_holiday", "missed_pause", "appointment_changed", "status_mismatch",
                "due_date_mismatch"} <= kinds, kinds  # fmt: skip
        skews = sum(1 for t in truths for f in t["faults"] if f["kind"] == "clock_skew")
        assert skews > 5


def test_the_default_demo_day_scores_perfect(tmp_path: Path) -> None:
    config = SimulationConfig(seed=7, dossiers=1500, days=1, start=date(2026, 3, 2))
    truth_path, out = run(tmp_path, config)
    end = truth_end(truth_path)
    assert end is not None
    result = replay(out, worker_policy(SETTINGS), SETTINGS.kafka.partitions, until=end)
    s = score(list(read_truth(truth_path)), result.states, end)
    assert s.perfect, render(s)


def test_replay_says_what_to_do_without_record_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dongbo simulate --out"):
        replay(tmp_path, worker_policy(SETTINGS), 12)


def test_a_skewed_clock_is_said_in_the_state(tmp_path: Path) -> None:
    config = SimulationConfig(
        seed=2, dossiers=200, days=5, start=date(2026, 3, 2), faults=fault_preset("all")
    )
    truth_path, out = run(tmp_path, config)
    result = replay(out, worker_policy(SETTINGS), SETTINGS.kafka.partitions)
    skewed = {
        (t["dossier_id"], f["system"], f["minutes"])
        for t in read_truth(truth_path)
        for f in t["faults"]
        if f["kind"] == "clock_skew"
    }
    assert skewed
    said = {
        (d, x["source"], int(x["source_value"].split()[0]))
        for d, st in result.states.items()
        for x in st["discrepancies"]
        if x["reason"] == "clock_skew"
    }
    # Every skewed clock of a system that sent enough to be compared is found, with its offset.
    assert said <= skewed and len(said) >= 0.8 * len(skewed), json.dumps(sorted(skewed - said))
