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
from pathlib import Path

from contract.settings import Settings
from dongbo.bench import city, isolated, pipeline


def run_once(base: Settings, dossiers: int, batch_size: int, timeout: float) -> tuple[int, float]:
    work = Path(tempfile.mkdtemp(prefix="dongbo-bench-"))
    run = pipeline(isolated(base, work, batch_size=batch_size), city(dossiers), work, timeout, print)
    return run.records.count, run.records.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
