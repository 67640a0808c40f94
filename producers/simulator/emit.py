"""The run: truth → each system's native records → adapters → bytes, in the order systems send them.

Dossiers are generated in order of submission; each dossier's records go into a heap keyed by
the moment their system sends them (event time + that system's lag, faults applied), and the
heap is drained up to the next submission: a record is never sent before an earlier one, so the
output is in send order without holding the whole run in memory longer than needed. With
``speed`` the drain is paced on the wall clock (``speed`` simulated seconds per second).
"""

from __future__ import annotations

import contextlib
import heapq
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from contract.settings import Settings
from contract.sources import CAPTURED_AT, RAW_SCHEMAS
from producers.adapters import build_record, encode_raw
from producers.privacy import Pseudonymiser
from producers.simulator import rng as rngs
from producers.simulator.city import City, load_city
from producers.simulator.config import SimulationConfig
from producers.simulator.faults import (
    CalendarFaults,
    calendar_faults,
    disturb,
    make_view,
    note_due_faults,
    summarise,
)
from producers.simulator.legal import Legal
from producers.simulator.lifecycle import live
from producers.simulator.model import Dossier, SourceRecord
from producers.simulator.native import build_native
from producers.simulator.sinks import DirSink, KafkaSink, NullSink, Sink
from producers.simulator.truth import Tally, truth_line
from producers.simulator.views import SystemView, records
from producers.simulator.vocab import SYSTEMS
from producers.simulator.workload import plan_arrivals
from streams.model import VN_TZ

Progress = Callable[[str], None]
_ORDER = {s: i for i, s in enumerate(SYSTEMS)}
_WINDOW = timedelta(days=120)  # due times reach this far beyond the run (30-day limits, pauses, letters)


@dataclass
class SimulationSummary:
    dossiers: int
    start: datetime
    end: datetime
    destination: str
    records: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    received_late: int = 0
    elapsed_s: float = 0.0
    truth_path: str | None = None

    @property
    def records_total(self) -> int:
        return sum(self.records.values())

    @property
    def records_per_s(self) -> float:
        return self.records_total / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def dossiers_per_s(self) -> float:
        return self.dossiers / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def _per_system(self) -> str:
        return ", ".join(
            f"{s} {n:,}" for s, n in sorted(self.records.items(), key=lambda kv: _ORDER.get(kv[0], 9))
        )

    def __str__(self) -> str:
        faults = sum(self.faults.values())
        return (
            f"{self.dossiers:,} dossiers, {self.records_total:,} records ({self._per_system()}), "
            f"{faults:,} faults, {self.elapsed_s:.1f}s ({self.records_per_s:,.0f} records/s)"
        )

    def report(self) -> str:
        span = f"{self.start.isoformat()} → {self.end.isoformat()}"
        lines = [
            f"simulated {span}: {self.dossiers:,} dossiers → {self.destination}",
            f"records: {self._per_system()} (total {self.records_total:,})",
            "channels: " + ", ".join(f"{k} {v:,}" for k, v in self.channels.most_common()),
            "outcomes: "
            + ", ".join(f"{k} {v:,}" for k, v in self.outcomes.most_common())
            + f"; received late {self.received_late:,}",
            "faults: " + (", ".join(f"{k} {v:,}" for k, v in sorted(self.faults.items())) or "none"),
            f"elapsed {self.elapsed_s:.2f}s: {self.dossiers_per_s:,.0f} dossiers/s, "
            f"{self.records_per_s:,.0f} records/s",
        ]
        if self.truth_path:
            lines.append(f"truth: {self.truth_path}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "dossiers": self.dossiers,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "destination": self.destination,
            "records": dict(self.records),
            "records_total": self.records_total,
            "faults": dict(sorted(self.faults.items())),
            "outcomes": dict(sorted(self.outcomes.items())),
            "channels": dict(sorted(self.channels.items())),
            "received_late": self.received_late,
        }


class _CachedPseudonymiser(Pseudonymiser):
    """The same keyed HMAC, computed once per applicant: one dossier makes a dozen records."""

    def __init__(self, base: Pseudonymiser) -> None:
        self.__dict__.update(base.__dict__)
        self._refs: dict[str, str | None] = {}

    def ref_or_none(self, identifier: str | None) -> str | None:
        if identifier is None:
            return None
        ref = self._refs.get(identifier)
        if ref is None:
            ref = self._refs[identifier] = super().ref_or_none(identifier)
        return ref


class _Pacer:
    """Hold each record until its simulated send time, ``speed`` simulated seconds per second."""

    def __init__(self, speed: float, end: datetime) -> None:
        self.speed, self.end = speed, end
        self.origin: datetime | None = None
        self.wall0 = 0.0

    def wait(self, at: datetime) -> None:
        if self.speed <= 0 or at > self.end:  # after the run's end: what is still in flight, at once
            return
        if self.origin is None:
            self.origin, self.wall0 = at, time.monotonic()
            return
        delay = self.wall0 + (at - self.origin).total_seconds() / self.speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def _sink(settings: Settings, out: Path | None, dry_run: bool) -> tuple[Sink, str]:
    if dry_run:
        return NullSink(), "nowhere (dry run)"
    if out is not None:
        return DirSink(out), f"files in {out}"
    sink = KafkaSink(settings)
    return sink, f"Kafka {settings.kafka.bootstrap} ({sink.topics.source('<system>')})"


def _encode(system: str, d: Dossier, rec: SourceRecord, view: SystemView, key: Pseudonymiser) -> bytes:
    native = build_native(system, d, rec, view.due_at, rec.recorded_at)
    return encode_raw(system, build_record(system, native, key))


def run_simulation(
    settings: Settings,
    config: SimulationConfig,
    truth_path: Path | str | None = None,
    progress: Progress | None = None,
    *,
    out: Path | str | None = None,
    dry_run: bool = False,
    legal: Legal | None = None,
) -> SimulationSummary:
    """Simulate ``config`` and send every system's records (Kafka, or files with ``out``).

    ``truth_path``: JSON Lines, one dossier per line, and ``<truth_path>.summary.json``.
    ``progress``: called with a line about every 5 % of the dossiers, and at the end.
    """
    began = time.monotonic()
    legal = legal or Legal.from_settings()
    city = load_city()
    start = datetime(config.start.year, config.start.month, config.start.day, tzinfo=VN_TZ)
    end = start + timedelta(days=config.days + config.tail_days)
    arrivals = plan_arrivals(config, city, legal.catalogue, legal.calendars.for_unit(None))
    cals = calendar_faults(config, legal, SYSTEMS, config.start - timedelta(days=7), (end + _WINDOW).date())
    key = _CachedPseudonymiser(Pseudonymiser.from_settings(settings))
    sink, destination = _sink(settings, Path(out) if out is not None else None, dry_run)
    summary = SimulationSummary(len(arrivals), start, end, destination)
    tally = Tally()
    pacer = _Pacer(config.speed, end)
    heap: list[_Queued] = []
    step = max(1, len(arrivals) // 20)

    def drain(until: datetime | None) -> None:
        while heap and (until is None or heap[0][0] <= until):
            at, _, _, _, _, system, code, value = heapq.heappop(heap)
            pacer.wait(at)
            headers = {"event_type": RAW_SCHEMAS[system], "source": system, CAPTURED_AT: at.isoformat()}
            sink.send(system, code, value, headers, at)

    with contextlib.ExitStack() as stack:
        stack.callback(sink.close)
        truth = stack.enter_context(Path(truth_path).open("w", encoding="utf-8")) if truth_path else None
        for n, a in enumerate(arrivals, 1):
            drain(a.submitted_at)  # nothing later in the run can be sent before this submission
            d = live(a, config, legal, end)
            for queued in _dossier_records(d, config, legal, city, cals, key, end):
                heapq.heappush(heap, queued)
            tally.add(d)
            if truth is not None:
                truth.write(truth_line(d))
            if progress is not None and n % step == 0 and n < len(arrivals):
                progress(_progress_line(n, len(arrivals), sink, began, a.submitted_at))
        drain(None)
    summary.records = Counter(sink.sent)
    summary.faults, summary.outcomes, summary.channels = tally.faults, tally.outcomes, tally.channels
    summary.received_late = tally.received_late
    summary.elapsed_s = time.monotonic() - began
    if truth_path:
        summary.truth_path = str(truth_path)
        _write_summary(Path(f"{truth_path}.summary.json"), summary, config, tally)
    if progress is not None:
        progress(f"done: {summary}")
    return summary


# (send time, dossier draw, system order, seq, resend, system, key, bytes): a total order, so the
# output order never depends on anything but the seed.
_Queued = tuple[datetime, int, int, int, bool, str, str, bytes]


def _dossier_records(
    d: Dossier,
    config: SimulationConfig,
    legal: Legal,
    city: City,
    cals: CalendarFaults,
    key: Pseudonymiser,
    end: datetime,
) -> Iterator[_Queued]:
    """Every record each system sends about ``d``, encoded, faults applied; fills d's source views."""
    for system in d.systems:
        view = make_view(d, system, config, legal, city, cals)
        recs = records(view, config.lags, rngs.stream(config.seed, "lag", d.index, system))
        sent = disturb(recs, d, config)
        arrived = [r for r in sent if r.deliver_at <= end]  # what dongbo has by the end of the run
        note_due_faults(view, d, _last_shown(arrived) or end)
        summarise(arrived, d, view)
        for rec in sent:
            value = _encode(system, d, rec, view, key)
            yield (rec.deliver_at, d.index, _ORDER[system], rec.seq, rec.resend, system, d.code, value)


def _progress_line(n: int, total: int, sink: Sink, began: float, sim_at: datetime) -> str:
    elapsed = max(time.monotonic() - began, 1e-9)
    sent = sum(sink.sent.values())
    return (
        f"{100 * n / total:3.0f}% {n:,}/{total:,} dossiers, {sent:,} records sent "
        f"({sent / elapsed:,.0f}/s), simulated time {sim_at:%Y-%m-%d %H:%M}"
    )


def _write_summary(path: Path, summary: SimulationSummary, config: SimulationConfig, tally: Tally) -> None:
    doc = {
        **summary.to_json(),
        "faults_by_system": dict(sorted(tally.faults_by_system.items())),
        "config": json.loads(json.dumps(asdict(config), default=str)),
    }
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _last_shown(sent: list[SourceRecord]) -> datetime | None:
    """When the system last showed its due date: the moment of its last record that arrived."""
    kept = [r for r in sent if not r.resend and r.due_at is not None]
    return max(kept, key=lambda r: r.seq).event.at if kept else None
