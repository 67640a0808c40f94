"""The reporting store at scale: load N synthetic dossier rows, time the statistics queries, and
report the store's size per dossier. Bounded: N rows (default 300,000), each query run 3 times.

    .venv/bin/python -m dongbo stack up -s postgres
    .venv/bin/python benchmarks/report_store_bench.py --dossiers 300000

Runs in its own schema (``bench``, dropped first). The baseline beside each query is
``SELECT count(*)`` over the same table in the same run (a full scan), so ratios can be read on a
noisy machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contract.settings import ReportSettings, Settings
from sinks.report.indicators import get_indicator
from sinks.report.query import Filters
from sinks.report.store import ReportStore, connect

SOURCES = ("portal", "onestop", "civil", "land", "business")
STATUSES = ("RECEIVED", "IN_PROGRESS", "RESULT_READY", "RETURNED", "SUPPLEMENT_REQUESTED", "REJECTED")
OUTCOMES = ("PENDING", "ON_TIME", "ENDED_EARLY", "OVERDUE")


def synthetic_state(i: int, rng: random.Random, start: datetime) -> dict[str, Any]:
    received = start + timedelta(minutes=rng.randrange(365 * 24 * 60))
    status = rng.choice(STATUSES)
    ended = (
        received + timedelta(days=rng.randrange(1, 20)) if status in ("RESULT_READY", "RETURNED") else None
    )
    due = received + timedelta(days=rng.randrange(1, 15))
    views = {}
    for s in rng.sample(SOURCES, rng.randrange(1, 4)):
        views[s] = {
            "status": rng.choice(STATUSES), "source_status": "4", "last_occurred_at": received,
            "due_at": due + timedelta(hours=rng.choice((0, 0, 0, 24))),
            "overdue": rng.choice((None, False, True)),
        }  # fmt: skip
    return {
        "dossier_id": f"000.{i % 94:02d}.00.H17-{i:08d}", "version": 1, "status": status,
        "procedure_code": f"1.{rng.randrange(400):06d}", "unit_code": f"000.{rng.randrange(94):02d}.00.H17",
        "channel": rng.choice(("ONLINE", "COUNTER", "POSTAL")), "received_at": received, "ended_at": ended,
        "due_at": due, "received_late": rng.random() < 0.05, "alerts": [],
        "outcome": rng.choice(OUTCOMES) if ended else "PENDING", "updated_at": received, "sources": views,
        "conflicts": [], "discrepancies": [],
    }  # fmt: skip


def timed(fn: Any) -> tuple[float, Any]:
    runs, result = [], None
    for _ in range(3):
        began = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - began)
    return statistics.median(runs), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dossiers", type=int, default=300_000)
    ap.add_argument("--url", default=ReportSettings().url)
    args = ap.parse_args()
    settings = Settings(report=ReportSettings(url=args.url, schema_name="bench", statement_timeout=300))
    conn = connect(settings)
    conn.execute("DROP TABLE IF EXISTS dossiers, dossier_details")
    conn.commit()
    store = ReportStore(conn, {f"1.{i:06d}": f"field-{i % 30}" for i in range(400)})
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    began = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for i in range(args.dossiers):
        batch.append(synthetic_state(i, rng, start))
        if len(batch) == 5000:
            store.write(batch)
            batch = []
            if (i + 1) % 50_000 == 0:
                print(f"  {i + 1:,} rows, {time.perf_counter() - began:.0f} s", flush=True)
    if batch:
        store.write(batch)
    load = time.perf_counter() - began
    conn.execute("ANALYZE dossiers")
    conn.execute("ANALYZE dossier_details")
    conn.commit()
    size = conn.execute(
        "SELECT pg_total_relation_size('dossiers') + pg_total_relation_size('dossier_details')"
    ).fetchone()
    heap = conn.execute("SELECT pg_relation_size('dossiers')").fetchone()
    conn.rollback()
    total_bytes, heap_bytes = int(size[0]) if size else 0, int(heap[0]) if heap else 0
    print(f"loaded {args.dossiers:,} rows in {load:.1f} s ({args.dossiers / load:,.0f} rows/s)")
    print(f"store size {total_bytes / 2**20:,.0f} MiB with indexes "
          f"({total_bytes / args.dossiers:,.0f} bytes per "
          f"dossier; the figures table a scan reads: {heap_bytes / args.dossiers:,.0f})")  # fmt: skip

    unit = "000.07.00.H17"
    march = Filters(start=date(2026, 3, 1), end=date(2026, 3, 31))
    queries = {
        "baseline: count(*) full scan": lambda: store.figures(Filters(), []),
        "by unit × outcome (whole year)": lambda: store.figures(Filters(), ["unit", "outcome"]),
        "by month × channel": lambda: store.figures(Filters(), ["month", "channel"]),
        "by procedure (whole year)": lambda: store.figures(Filters(), ["procedure"]),
        "by field × quarter, ended": lambda: store.figures(Filters(period_by="ended"), ["field", "quarter"]),
        "one unit, March, by day": lambda: store.figures(
            Filters(units=(unit,), start=march.start, end=march.end), ["day"]
        ),
        "by source × outcome judged by the portal": lambda: store.figures(
            Filters(judged_by="portal"), ["outcome"]
        ),
        "indicator 2.1 by unit, legal + 5 systems": lambda: store.indicator(
            get_indicator("2.1"), Filters(), ["unit"], SOURCES
        ),
        "members of one unit's overdue (export rows)": lambda: sum(
            1 for _ in store.members(Filters(units=(unit,), timeliness=("OVERDUE",)))
        ),
    }
    print(f"\n{'query':<46} {'median of 3':>12}")
    for name, fn in queries.items():
        seconds, _ = timed(fn)
        print(f"{name:<46} {seconds * 1000:>9,.0f} ms")
    conn.close()


if __name__ == "__main__":
    main()
