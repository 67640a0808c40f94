"""What a merge run published, checked against the same records merged in-process without
interruption (``dongbo.replay``, the engine the worker runs): the crash and scale-out tests."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from redis import Redis

from contract.settings import Settings
from contract.topics import topics_for
from dongbo.accuracy import truth_end
from dongbo.replay import ReplayResult, replay
from producers.simulator import SimulationConfig, fault_preset, run_simulation
from schemas import codec
from sinks.redis_sink import keys_for
from streams.configured import worker_policy
from tests.integration.kafka_util import read_all, wait_for

CONFIG = SimulationConfig(
    seed=31, dossiers=150, days=4, start=date(2026, 4, 20), tail_days=3, faults=fault_preset("all")
)


def reference(settings: Settings, tmp: Path, config: SimulationConfig = CONFIG) -> tuple[ReplayResult, Any]:
    """The run without interruption: the same records through the same engine, in-process."""
    run_simulation(settings, config, truth_path=tmp / "truth.jsonl", out=tmp / "records")
    end = truth_end(tmp / "truth.jsonl")
    return replay(tmp / "records", worker_policy(settings), settings.kafka.partitions, until=end), end


def ms(when: Any) -> Any:
    """As a record carries it (Avro timestamp-millis)."""
    return when.replace(microsecond=when.microsecond // 1000 * 1000) if when is not None else None


def first_of_each_id(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["id"] in seen:
            differ = {k: (seen[r["id"]].get(k), r.get(k)) for k in r if seen[r["id"]].get(k) != r.get(k)}
            assert not differ, f"one id, two different records: {seen[r['id']]} and {r}"
        else:
            seen[r["id"]] = r
    return list(seen.values())


def assert_same_outputs(settings: Settings, expected: ReplayResult) -> None:
    """Every alert (one per id), every conflict's open/resolve sequence, the final states and the
    Redis figures equal those of the uninterrupted run: nothing lost, nothing doubled."""
    names = topics_for(settings)
    alerts = first_of_each_id(
        [codec.decode("vn.dongbo.DeadlineAlert", m.value()) for m in read_all(settings, names.deadlines)]
    )
    want_alerts = Counter((d, kind, ms(at)) for d, kind, at in expected.alert_log)
    got_alerts = Counter((a["dossier_id"], a["kind"], a["at"]) for a in alerts)
    assert got_alerts == want_alerts, (
        f"alerts only published: {got_alerts - want_alerts}; only expected: {want_alerts - got_alerts}"
    )

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
    differ = {k: (got_seq.get(k), want_seq.get(k)) for k in set(got_seq) | set(want_seq)
              if got_seq.get(k) != want_seq.get(k)}  # fmt: skip
    assert not differ, (
        f"{len(differ)} conflict sequences differ (published, expected): {list(differ.items())[:5]}"
    )

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
