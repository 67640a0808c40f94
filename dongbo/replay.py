"""Replay a simulation's record files through the engine in-process, with no broker.

``dongbo simulate --out DIR`` writes each system's records in the order it sends them; here they
are merged by send time, normalised and merged exactly as the worker does it (the same
``MergeEngine``, stream clock, per-partition watermarks), so ``dongbo accuracy --replay DIR`` scores
the engine's logic in seconds rather than the minutes a broker round trip takes on a small box.
It is not a substitute for the real pipeline (tests/integration), but a fast loop for the rules.

``order="backlog"`` reads the records as a worker catching up on a backlog does: each system's
records in their own order, the systems interleaved in random runs (a consumer fetching batches
from each topic), so one system is read hours of event time ahead of another. The outputs must be
those of the send order (docs/guarantees.md#stream-time).
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from contract.partitioning import partition_of
from contract.sources import LIVE_SYSTEMS, SOURCE_SYSTEMS
from producers.simulator.sinks import OutRecord, read_records
from sinks.redis_sink import state_json
from streams.engine import MergeEngine, Output
from streams.merge_policy import MergePolicy
from streams.normalise.errors import NormaliseError
from streams.normalise.registry import normalise
from streams.normalise.sources import captured_at

BATCH = 500  # events between stores, as the worker's merge batch


@dataclass
class ReplayResult:
    states: dict[str, dict[str, Any]]  # dossier id -> the state as the Redis sink stores it
    records: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)  # reason -> count
    conflicts_opened: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    # Every output, in the order produced: (dossier, kind, moment) and (dossier, change, key, since, moment)
    alert_log: list[tuple[str, str, datetime | None]] = field(default_factory=list)
    conflict_log: list[tuple[str, str, str, datetime, datetime | None]] = field(default_factory=list)

    def note(self, outputs: list[Output]) -> None:
        for out in outputs:
            dossier = out.state.dossier_id
            self.alerts.update(out.alerts)
            self.alert_log += [(dossier, kind, out.at) for kind in out.alerts]
            self.conflicts_opened.update(c.kind for c in out.opened)
            for change, items in (("OPENED", out.opened), ("RESOLVED", out.resolved)):
                self.conflict_log += [(dossier, change, c.key, c.since, out.at) for c in items]


def records_in_send_order(directory: Path) -> Iterator[OutRecord]:
    """Every system's records, merged by the moment they were sent (ties: the system order)."""
    streams = [read_records(directory, system) for system in SOURCE_SYSTEMS]
    return heapq.merge(*streams, key=lambda r: r.deliver_at)


def records_as_a_backlog(directory: Path, seed: int, run: int = 400) -> Iterator[OutRecord]:
    """Each system's records in its own order, the systems interleaved in random runs of up to
    ``run`` records: how a worker reads a backlog of several topics."""
    streams = [read_records(directory, system) for system in SOURCE_SYSTEMS]
    live = [iter(s) for s in streams]
    rng = random.Random(seed)
    while live:
        it = rng.choice(live)
        for _ in range(rng.randint(1, run)):
            rec = next(it, None)
            if rec is None:
                live.remove(it)
                break
            yield rec


def replay(
    directory: Path,
    policy: MergePolicy,
    partitions: int,
    progress: Callable[[int], None] | None = None,
    until: datetime | None = None,
    order: Literal["send", "backlog"] = "send",
    seed: int = 0,
) -> ReplayResult:
    """``until``: the end of the run; every partition's stream time is moved there after the last
    record (as ``dongbo watermark`` does for the worker); without it, to the latest capture read.
    ``order``/``seed``: see the module."""
    if not any((directory / f"src.{s}.dossier.jsonl").exists() for s in SOURCE_SYSTEMS):
        raise FileNotFoundError(
            f"no record files in {directory}: write them with `dongbo simulate --out {directory}`"
        )
    table: dict[bytes, bytes] = {}
    engine = MergeEngine(
        policy, table, lambda key: partition_of(key, partitions), expected_sources=LIVE_SYSTEMS,
        write_through=False,
    )  # fmt: skip

    def store() -> None:  # as the worker does after each batch
        for _, key, raw in engine.take_writes():
            table[key] = raw

    result = ReplayResult(states={})
    ordered = records_in_send_order(directory) if order == "send" else records_as_a_backlog(directory, seed)
    latest: datetime | None = None  # the last capture read: where time ends unless ``until`` says
    for n, rec in enumerate(ordered, 1):
        result.records += 1
        try:
            # The capture time in the headers (else the send moment) is the ingestion time.
            event = normalise(rec.system, rec.value, captured_at(rec.headers, rec.deliver_at))
        except NormaliseError as exc:
            result.dead_letters[exc.reason] += 1
            continue
        latest = event.ingested_at if latest is None else max(latest, event.ingested_at)
        partition = partition_of(event.dossier_id.encode(), partitions)
        step = engine.on_event(partition, event)
        result.note(step.outputs)
        if step.rejected is not None:
            result.dead_letters[step.rejected.reason] += 1
        if n % BATCH == 0:
            store()
        if progress is not None and n % 10_000 == 0:
            progress(n)
    until = until or latest
    if until is not None:
        for partition in range(partitions):
            result.note(engine.advance(partition, until))
    store()
    for state in engine.states():
        result.states[state.dossier_id] = state_json(state.to_record())
    return result
