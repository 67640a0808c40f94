"""``dongbo bench`` on the real stack: every figure measured, in one run, beside the ceilings."""

from __future__ import annotations

import re

import pytest

from contract.settings import Settings
from dongbo.bench import run_bench

pytestmark = pytest.mark.integration


def rate_of(line: str) -> float:
    found = re.search(r"([\d,]+)/s", line)
    assert found, line
    return float(found.group(1).replace(",", ""))


def test_the_bench_prints_every_figure_with_a_rate(settings: Settings) -> None:
    said: list[str] = []
    lines = run_bench(settings, dossiers=60, timeout=300, say=said.append, rate=200, latency_seconds=2,
                      workers=(1, 2), timer_dossiers=300, timer_window=3)  # fmt: skip
    names = [line[:50].strip() for line in lines[:10]]
    assert names == [
        "raw ceiling (confluent-kafka + fastavro)",
        "Faust ceiling: iterate + decode",
        "Faust ceiling: + batched table writes",
        "pipeline on a backlog, 1 worker, raw records",
        "pipeline on a backlog, 1 worker, canonical events",
        "pipeline on a backlog, 2 workers, raw records",
        "pipeline on a backlog, 2 workers, canonical events",
        "merge engine in-process, with the legal rules",
        "merge engine in-process, without the legal rules",
        "prototype: normalise + merge on confluent-kafka",
    ]
    assert all(rate_of(line) > 0 for line in lines[:10])
    assert "% of the raw ceiling" in lines[1] and "% of the raw ceiling" in lines[4]
    assert "% of the batched-table ceiling" in lines[4]
    counts = [int(line[50:].split()[0].replace(",", "")) for line in lines[:10]]
    assert counts[3] == counts[5] == counts[7] == counts[8] == counts[9] > 100  # the same records everywhere
    assert re.search(r"[\d.]+x the 1-worker pipeline's records/s", lines[9]), lines[9]
    assert counts[0] == counts[1] == counts[2] == counts[4] == counts[6]  # the same events
    latency, timers, open_memory, restart, memory, year = lines[10:]
    assert re.search(r"p50 [\d,]+ ms +p95 [\d,]+ ms +p99 [\d,]+ ms", latency), latency
    assert "400 sent" in latency
    # Every dossier's overdue alert came out, each with its lag measured against the worker's clock.
    assert "300 open dossiers" in timers and "300 alerts" in timers, timers
    lags = [float(x.replace(",", "")) for x in re.findall(r"p(?:50|99) ([\d,]+) ms", timers)]
    assert len(lags) == 2 and 0 < lags[0] <= lags[1] < 60_000, timers
    assert re.search(r"[\d.]+ KiB per open dossier", open_memory), open_memory
    assert re.search(r"the table read from its changelog\): [\d.]+ s", restart), restart
    assert re.search(r"peak worker memory .*: [\d,]+ MiB", memory) and not memory.startswith(
        "peak worker memory (1 worker, 60 dossiers): 0 MiB"
    )
    assert "extrapolated" in year and re.search(r"[\d.]+ h with 1 worker", year), year
