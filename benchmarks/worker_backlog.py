"""The worker on a backlog, through the real broker: how long it takes to merge a simulated city
published before it starts, with the merge's batch size as the variable.

The cost of storing a state only after the outputs it produced are acknowledged is one broker
round trip per batch; with ``--batch-size 1`` it is one per event. Both are run in the same
invocation, so their ratio can be read on a noisy machine. Needs the local stack
(``dongbo stack up``); bounded by ``--dossiers`` and ``--timeout``.

    .venv/bin/python benchmarks/worker_backlog.py --dossiers 400 --batch-sizes 1,500
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from contract.settings import Settings, WorkerSettings
from contract.sources import SOURCE_SYSTEMS
from contract.topics import ensure_topics, topics_for
from dongbo.lag import wait_caught_up
from dongbo.processes import start_worker, wait_ready
from producers.simulator import SimulationConfig, fault_preset, run_simulation


def run_once(base: Settings, dossiers: int, batch_size: int, timeout: float) -> tuple[int, float]:
    tag = f"b{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="dongbo-bench-"))
    ws = WorkerSettings(app_id=f"dongbo-{tag}", data_dir=work / "worker", web_port=0, topic_prefix=f"{tag}.",
                        clock="stream", batch_size=batch_size)  # fmt: skip
    settings = base.model_copy(update={"worker": ws})
    ensure_topics(settings)
    config = SimulationConfig(seed=31, dossiers=dossiers, days=2, faults=fault_preset("all"))
    records = run_simulation(settings, config).records_total
    names = topics_for(settings)
    proc = start_worker(settings, work / "worker.log")
    try:
        wait_ready(proc, work / "worker.log")
        began = time.monotonic()
        lag = wait_caught_up(settings, ws.app_id, [names.source(s) for s in SOURCE_SYSTEMS] + [names.events],
                             timeout=timeout, settle=3)  # fmt: skip
        if lag:
            raise SystemExit(f"batch size {batch_size}: still {lag} message(s) behind after {timeout:.0f}s")
        return records, time.monotonic() - began
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=400)
    parser.add_argument("--batch-sizes", default="1,500", help="comma-separated; the first is the baseline")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run at most")
    args = parser.parse_args()
    base = Settings()
    results = []
    for size in [int(s) for s in args.batch_sizes.split(",")]:
        records, seconds = run_once(base, args.dossiers, size, args.timeout)
        results.append((size, records, seconds))
        rate = records / seconds
        print(f"batch size {size:>4}: {records:,} records merged in {seconds:.1f}s = {rate:,.0f} records/s")
    (b_size, _, b_secs), *rest = results
    for size, _, secs in rest:
        print(f"batch size {size} vs {b_size}: {b_secs / secs:.1f}x the throughput")


if __name__ == "__main__":
    main()
