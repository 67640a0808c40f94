"""Benchmark of the merge rule (pure, no Kafka): events/s, per-event latency percentiles, memory.

Prints the same run's baseline beside the figures, so a ratio can be read on a noisy machine:
the baseline folds the same events into a plain dict of last status per dossier and source (what
a naive "last write wins" sync would do), with the same table serialisation round trip excluded.

    .venv/bin/python benchmarks/merge_bench.py --dossiers 5000
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import tracemalloc
from datetime import datetime, timedelta

from streams.merge import apply_event
from streams.model import VN_TZ, Channel, DossierEvent, Status
from streams.statecache import StateCache

FLOW = [Status.RECEIVED, Status.IN_PROGRESS, Status.SUPPLEMENT_REQUESTED, Status.SUPPLEMENT_RECEIVED,
        Status.IN_PROGRESS, Status.RESULT_READY, Status.RETURNED]  # fmt: skip


def workload(dossiers: int, seed: int) -> list[DossierEvent]:
    rnd = random.Random(seed)
    t0 = datetime(2026, 4, 6, 7, 30, tzinfo=VN_TZ)
    out = []
    for i in range(dossiers):
        for source in ("onestop", "portal"):
            for j, status in enumerate(FLOW[: rnd.randint(2, len(FLOW))]):
                at = t0 + timedelta(minutes=37 * j + (3 if source == "portal" else 0))
                sid = f"{i}-{source}-{j}"
                out.append(
                    DossierEvent(dossier_id=f"D{i}", source=source, source_event_id=sid, status=status,
                                 occurred_at=at, ingested_at=at, channel=Channel.ONLINE)
                )  # fmt: skip
    rnd.shuffle(out)
    return out + out[::10]  # 10 % duplicates


def run_merge(events: list[DossierEvent]) -> list[float]:
    """As the worker does it: load from the table bytes, apply, dump back."""
    table: dict[bytes, bytes] = {}
    cache = StateCache()
    lat = []
    now = datetime(2026, 4, 7, tzinfo=VN_TZ)
    for e in events:
        t = time.perf_counter()
        key = e.dossier_id.encode()
        r = apply_event(cache.load(key, table.get(key)), e, now)
        if r.applied:
            raw = r.state.dumps()
            table[key] = raw
            cache.put(key, raw, r.state)
        lat.append(time.perf_counter() - t)
    return lat


def run_baseline(events: list[DossierEvent]) -> list[float]:
    table: dict[tuple[str, str], str] = {}
    lat = []
    for e in events:
        t = time.perf_counter()
        table[(e.dossier_id, e.source)] = e.status.value
        lat.append(time.perf_counter() - t)
    return lat


def report(name: str, lat: list[float], peak: int) -> None:
    q = statistics.quantiles(lat, n=100)
    print(
        f"{name:<10} {len(lat) / sum(lat):>12,.0f} ev/s   p50 {q[49] * 1e6:>8.1f} µs"
        f"   p99 {q[98] * 1e6:>8.1f} µs   max {max(lat) * 1e6:>9.1f} µs"
        f"   peak mem (10 % of events) {peak / 2**20:>6.1f} MiB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dossiers", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    events = workload(args.dossiers, args.seed)
    print(f"{len(events):,} events over {args.dossiers:,} dossiers (2 sources, 10 % duplicates, shuffled)")
    for name, fn in (("baseline", run_baseline), ("merge", run_merge)):
        lat = fn(events)  # timed without tracemalloc, which slows allocation-heavy code a lot
        tracemalloc.start()
        fn(events[: len(events) // 10])
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        report(name, lat, peak)


if __name__ == "__main__":
    main()
