"""``dongbo bench`` on the real stack: every figure measured, in one run, beside the ceiling."""

from __future__ import annotations

import re

import pytest

from contract.settings import Settings
from dongbo.bench import run_bench

pytestmark = pytest.mark.integration


def test_the_bench_prints_every_figure_with_a_rate(settings: Settings) -> None:
    said: list[str] = []
    lines = run_bench(settings, dossiers=60, timeout=300, say=said.append)
    names = [line[:50].strip() for line in lines]
    assert names == [
        "raw ceiling (confluent-kafka + fastavro)",
        "pipeline on a backlog, raw records",
        "pipeline on a backlog, canonical events",
        "merge engine in-process, with the legal rules",
        "merge engine in-process, without the legal rules",
    ]
    rates = [float(re.search(r"([\d,]+)/s", line).group(1).replace(",", "")) for line in lines]  # type: ignore[union-attr]
    assert all(rate > 0 for rate in rates)
    assert "% of the raw ceiling" in lines[2]
    counts = [int(line[50:].split()[0].replace(",", "")) for line in lines]
    assert counts[1] == counts[3] == counts[4] > 100  # the same records everywhere
