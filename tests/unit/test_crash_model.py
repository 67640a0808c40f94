"""The merge engine under the worker's crash model, in-process: crashes change no output.

What a killed worker leaves behind (docs/guarantees.md#crashes), modelled without a broker:
- the table is what its changelog holds: each partition's writes in order, so a crash in the
  middle of storing a batch leaves a prefix of that partition's writes (states before the clock:
  ``MergeEngine.take_writes``); the worker never starts from a local store that may be ahead of
  the changelog (``streams.app.discard_local_tables``);
- offsets are committed only for batches whose writes the changelog has, and not always at once
  (Faust commits on an interval), so a restart redelivers from an earlier point;
- everything a crashed batch sent may have been published (its outputs are sent before its
  writes), and the normaliser's own redeliveries put copies of earlier events on the log again.

The same records merged without a crash (``dongbo.replay``) are the reference: every alert and
conflict change (one per id, any repeat identical), and the final states, must be the same. The
integration test (tests/integration/test_crash_recovery.py) kills the real worker; this one
explores many more crash points, in seconds. Let the restarted worker keep writes the changelog
never got (Faust's RocksDB store does, hence ``discard_local_tables``) and it fails: an alert
published at another moment than the uninterrupted run's, as the integration test once saw.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from contract.partitioning import partition_of
from contract.settings import Settings
from contract.sources import LIVE_SYSTEMS
from dongbo.accuracy import truth_end
from dongbo.replay import ReplayResult, records_as_a_backlog, replay
from producers.simulator import SimulationConfig, fault_preset, run_simulation
from sinks.redis_sink import state_json
from streams.configured import worker_policy
from streams.engine import MergeEngine, Output
from streams.model import DossierEvent
from streams.normalise.errors import NormaliseError
from streams.normalise.registry import normalise
from streams.normalise.sources import captured_at

SETTINGS = Settings()
PARTITIONS = SETTINGS.kafka.partitions
BATCH = 100  # smaller than the worker's: more crash points per run


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime, ReplayResult]:
    tmp = tmp_path_factory.mktemp("crash")
    config = SimulationConfig(
        seed=31, dossiers=150, days=4, start=date(2026, 4, 20), tail_days=3, faults=fault_preset("all")
    )
    run_simulation(SETTINGS, config, truth_path=tmp / "truth.jsonl", out=tmp / "records")
    end = truth_end(tmp / "truth.jsonl")
    return tmp / "records", end, replay(tmp / "records", worker_policy(SETTINGS), PARTITIONS, until=end)


def event_logs(records: Path, rnd: random.Random) -> dict[int, list[DossierEvent]]:
    """Each partition of ``dossier.events`` as a backlog puts it there, with the copies a
    restarted normaliser sends again (a run of earlier events, repeated)."""
    logs: dict[int, list[DossierEvent]] = defaultdict(list)
    for rec in records_as_a_backlog(records, rnd.randrange(1000)):
        try:
            event = normalise(rec.system, rec.value, captured_at(rec.headers, rec.deliver_at))
        except NormaliseError:
            continue
        log = logs[partition_of(event.dossier_id.encode(), PARTITIONS)]
        log.append(event)
        if rnd.random() < 0.002:
            log += log[-rnd.randint(1, 50) :]
    return logs


class Published:
    """What reached the output topics, checked as a consumer keeping one record per id sees it."""

    def __init__(self) -> None:
        self.alerts: dict[tuple[str, str], Any] = {}
        self.conflicts: dict[tuple[str, str, Any, str], Any] = {}

    def add(self, outputs: list[Output]) -> None:
        for out in outputs:
            dossier = out.state.dossier_id
            for kind in out.alerts:
                first = self.alerts.setdefault((dossier, kind), out.at)
                assert first == out.at, f"alert {dossier} {kind} published at {first} and at {out.at}"
            for change, items in (("OPENED", out.opened), ("RESOLVED", out.resolved)):
                for c in items:
                    first = self.conflicts.setdefault((dossier, c.key, c.since, change), out.at)
                    assert first == out.at, f"conflict {dossier} {c.key} {change} at {first} and {out.at}"


def run_with_crashes(
    records: Path, end: datetime, seed: int, crashes: int, limit: int | None = None
) -> tuple[Published, dict[str, Any]]:
    """``limit``: the engine's ``catch_up_limit``; as the worker does, the moments past it are
    visited in further steps after the batch, each stored (or crashed in) like a batch."""
    rnd = random.Random(seed)
    logs = event_logs(records, rnd)
    changelog: dict[bytes, bytes] = {}
    committed = dict.fromkeys(logs, 0)
    published = Published()
    policy = worker_policy(SETTINGS)
    left = crashes

    def store(engine: MergeEngine, table: dict[bytes, bytes]) -> bool:
        """The step's writes stored, or a crash part-way (True)."""
        nonlocal left
        writes = engine.take_writes()
        if left and rnd.random() < 0.2:
            left -= 1
            by_partition: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
            for p, key, raw in writes:
                by_partition[p].append((key, raw))
            for items in by_partition.values():
                changelog.update(items[: rnd.randint(0, len(items))])
            return True
        for _, key, raw in writes:
            table[key] = changelog[key] = raw
        return False

    while True:
        table = dict(changelog)  # recovered from the changelog alone
        engine = MergeEngine(policy, table, lambda key: partition_of(key, PARTITIONS),
                             expected_sources=LIVE_SYSTEMS, write_through=False,
                             catch_up_limit=limit)  # fmt: skip
        position = dict(committed)
        crashed = False
        while not crashed and (open_ := [p for p in logs if position[p] < len(logs[p])]):
            batch: list[tuple[int, DossierEvent]] = []
            while len(batch) < BATCH and open_:
                p = rnd.choice(open_)  # a fetch from one partition
                n = rnd.randint(1, 100)
                batch += [(p, e) for e in logs[p][position[p] : position[p] + n]]
                position[p] = min(len(logs[p]), position[p] + n)
                open_ = [p for p in logs if position[p] < len(logs[p])]
            for p, event in batch:
                published.add(engine.on_event(p, event).outputs)
            crashed = store(engine, table)
            behind = sorted({p for p, _ in batch})
            while not crashed and (behind := [p for p in behind if engine.behind(p)]):
                for p in behind:
                    published.add(engine.catch_up(p))
                crashed = store(engine, table)
            if not crashed and rnd.random() < 0.5:
                committed = dict(position)
        if crashed:
            continue
        for p in range(PARTITIONS):
            published.add(engine.advance(p, end))
            while engine.behind(p):
                for _, key, raw in engine.take_writes():
                    table[key] = changelog[key] = raw
                published.add(engine.catch_up(p))
        for _, key, raw in engine.take_writes():
            table[key] = changelog[key] = raw
        states = {s.dossier_id: state_json(s.to_record()) for s in engine.states()}
        return published, states


def comparable(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in ("version", "updated_at")}


@pytest.mark.parametrize(
    ("seed", "limit"), [(1, None), (2, None), (3, None), (4, None), (5, None), (6, 5), (7, 5), (8, 40)]
)
def test_crashes_change_no_output(
    simulated: tuple[Path, datetime, ReplayResult], seed: int, limit: int | None
) -> None:
    """``limit``: moments visited in bounded steps (the worker's ``catch_up_limit``), crashes
    between the steps too."""
    records, end, reference = simulated
    published, states = run_with_crashes(records, end, seed, crashes=10, limit=limit)

    assert Counter(published.alerts.items()) == Counter(((d, k), at) for d, k, at in reference.alert_log)
    want_conflicts = {(d, key, since, change): at for d, change, key, since, at in reference.conflict_log}
    assert published.conflicts == want_conflicts
    assert {d: comparable(s) for d, s in states.items()} == {
        d: comparable(s) for d, s in reference.states.items()
    }
    # Not vacuous: the run fired alerts and changed conflicts.
    assert len(published.alerts) > 20 and len(published.conflicts) > 20
