"""Replay a simulation's record files through the engine in-process, with no broker.

``dongbo simulate --out DIR`` writes each system's records in the order it sends them; here they
are merged by send time, normalised and merged exactly as the worker does it (the same
``MergeEngine``, stream clock, per-partition watermarks), so ``dongbo accuracy --replay DIR`` scores
the engine's logic in seconds rather than the minutes a broker round trip takes on a small box.
It is not a substitute for the real pipeline (tests/integration), but a fast loop for the rules.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from contract.partitioning import partition_of
from contract.sources import SOURCE_SYSTEMS
from producers.simulator.sinks import OutRecord, read_records
from sinks.redis_sink import state_json
from streams.engine import MergeEngine
from streams.merge_policy import MergePolicy
from streams.normalise.errors import NormaliseError
from streams.normalise.registry import normalise
from streams.normalise.sources import captured_at


@dataclass
class ReplayResult:
    states: dict[str, dict[str, Any]]  # dossier id -> the state as the Redis sink stores it
    records: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)  # reason -> count
    conflicts_opened: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)


def records_in_send_order(directory: Path) -> Iterator[OutRecord]:
    """Every system's records, merged by the moment they were sent (ties: the system order)."""
    streams = [read_records(directory, system) for system in SOURCE_SYSTEMS]
    return heapq.merge(*streams, key=lambda r: r.deliver_at)


def replay(
    directory: Path,
    policy: MergePolicy,
    partitions: int,
    progress: Callable[[int], None] | None = None,
    until: datetime | None = None,
) -> ReplayResult:
    """``until``: the end of the run; every partition's stream time is moved there after the last
    record (as ``dongbo watermark`` does for the worker)."""
    if not any((directory / f"src.{s}.dossier.jsonl").exists() for s in SOURCE_SYSTEMS):
        raise FileNotFoundError(
            f"no record files in {directory}: write them with `dongbo simulate --out {directory}`"
        )
    table: dict[bytes, bytes] = {}
    engine = MergeEngine(policy, table, lambda key: partition_of(key, partitions), stream_clock=True)
    result = ReplayResult(states={})
    for n, rec in enumerate(records_in_send_order(directory), 1):
        result.records += 1
        try:
            # The capture time in the headers (else the send moment) is the ingestion time.
            event = normalise(rec.system, rec.value, captured_at(rec.headers, rec.deliver_at))
        except NormaliseError as exc:
            result.dead_letters[exc.reason] += 1
            continue
        partition = partition_of(event.dossier_id.encode(), partitions)
        step = engine.on_event(partition, event, rec.deliver_at)
        for out in step.outputs:
            result.alerts.update(out.alerts)
            result.conflicts_opened.update(c.kind for c in out.opened)
        if step.rejected is not None:
            result.dead_letters[step.rejected.reason] += 1
        if progress is not None and n % 10_000 == 0:
            progress(n)
    if until is not None:
        for partition in range(partitions):
            for out in engine.advance(partition, until):
                result.alerts.update(out.alerts)
                result.conflicts_opened.update(c.kind for c in out.opened)
    for key in table:
        state = engine.state(key)
        if state is not None:
            result.states[state.dossier_id] = state_json(state.to_record())
    return result
