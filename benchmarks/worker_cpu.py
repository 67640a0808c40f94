"""Where a worker's CPU goes: the worker's CPU time per raw record on a backlog, beside the merge
engine's own CPU time per record on the same records in-process (no Kafka) in the same run.

The difference is what the worker spends around the engine: Faust's and aiokafka's consuming and
producing, the Avro encoding of its outputs, the table's changelog, metrics. CPU time rather than
the wall clock, so the broker and the other processes sharing this machine's two cores do not
count; the wall-clock rate is printed too.

    .venv/bin/python -m dongbo stack up
    .venv/bin/python benchmarks/worker_cpu.py --dossiers 1500

Bounded by ``--dossiers`` and ``--timeout``. The Redis sink is not started (its own process and
consumer group: not the worker's CPU).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from contract.settings import Settings
from contract.sources import SOURCE_SYSTEMS
from contract.topics import ensure_topics, topics_for
from dongbo.bench import city, isolated
from dongbo.bench_io import cpu_seconds
from dongbo.lag import wait_caught_up
from dongbo.processes import start_worker, wait_ready
from dongbo.replay import replay
from producers.simulator import run_simulation
from streams.configured import worker_policy


def worker(base: Settings, dossiers: int, work: Path, timeout: float) -> tuple[int, float, float]:
    """(records, wall seconds, worker CPU seconds) from the worker ready to its group caught up."""
    settings = isolated(base, work)
    ensure_topics(settings)
    records = run_simulation(settings, city(dossiers)).records_total
    log = work / "worker.log"
    proc = start_worker(settings, log)
    try:
        wait_ready(proc, log)
        cpu, began = cpu_seconds(proc.pid), time.monotonic()
        names = topics_for(settings)
        inputs = [names.source(s) for s in SOURCE_SYSTEMS] + [names.events]
        lag = wait_caught_up(settings, settings.worker.app_id, inputs, timeout=timeout, settle=2)
        if lag:
            raise SystemExit(f"the worker is still {lag} records behind after {timeout:.0f}s (log: {log})")
        # The settle wait above is idle time for the worker: it adds wall seconds, little CPU.
        return records, time.monotonic() - began, cpu_seconds(proc.pid) - cpu
    finally:
        proc.terminate()
        proc.wait(30)


def engine(base: Settings, dossiers: int, work: Path) -> tuple[int, float]:
    """(records, CPU seconds) of the same city replayed in-process: normalise, merge, table writes."""
    records = work / "records"
    run_simulation(base, city(dossiers), truth_path=work / "truth.jsonl", out=records)
    policy = worker_policy(base)
    began = time.process_time()
    result = replay(records, policy, base.kafka.partitions)
    return result.records, time.process_time() - began


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dossiers", type=int, default=1500)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds the worker may take at most")
    args = parser.parse_args()
    base = Settings()
    with tempfile.TemporaryDirectory(prefix="dongbo-cpu-") as tmp:
        (Path(tmp) / "w").mkdir()
        (Path(tmp) / "e").mkdir()
        n, wall, cpu = worker(base, args.dossiers, Path(tmp) / "w", args.timeout)
        m, own = engine(base, args.dossiers, Path(tmp) / "e")
    if n != m:
        raise SystemExit(f"the worker read {n:,} records, the replay {m:,}: not the same city")
    per, inner = cpu / n * 1000, own / m * 1000
    print(f"{n:,} raw records ({args.dossiers:,} dossiers, every fault)")
    print(f"worker: {wall:.1f} s wall ({n / wall:,.0f} records/s), {cpu:.1f} s CPU = {per:.2f} ms a record")
    print(f"engine in-process, same records: {own:.1f} s CPU = {inner:.2f} ms a record")
    print(f"the engine is {inner / per:.0%} of the worker's CPU; around it: {per - inner:.2f} ms a record")


if __name__ == "__main__":
    main()
