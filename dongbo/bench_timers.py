"""Timer lag and memory with many open dossiers, on a live (wall clock) worker.

``dossiers`` open dossiers are received by the worker; ``rate`` of them a second have their
overdue moment in a window that the worker's clock (``DONGBO_WORKER_CLOCK_START``) reaches once
they are all loaded, the others later that day (they weigh on the table, the cache and memory, as
a city's open dossiers do, while the moments pass at a city's pace, not all at once).
Each overdue alert's lag is its broker timestamp less the real time at which the worker's
clock passed its moment (``at``). The worker's clock is mapped to the real clock through its own
watermark ticks (a tick carries the clock's time less the live margin; its broker timestamp is
the real time it was sent), so the figure does not depend on guessing when the worker started.
The lag includes the live margin by design: a partition's time trails the wall by it, so records
in flight are read before a moment is judged (docs/guarantees.md#stream-time).

Every dossier is a copy of one procedure with a four-working-hour deadline (``1.001766``,
civil-status extract), received at the counter on a Wednesday morning: received at 08:00 + x, it
is due at 13:30 + x (07:30-11:30, then 13:00-), so even receipts give even moments.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from contract.settings import Settings
from contract.topics import ensure_topics, topics_for
from dongbo.bench_io import Say, count_records, memory_mib, peak_rss_mib, read_all
from dongbo.lag import wait_caught_up
from dongbo.processes import start_worker, wait_ready
from producers.publisher import Publisher
from schemas import codec
from streams.agents.merge import watermark_of
from streams.model import VN_TZ, Channel, DossierEvent, Status

PROCEDURE = "1.001766"  # copy of a civil-status extract: 4 working hours
UNIT = "000.00.15.H17"
FIRST_RECEIVED = datetime(2026, 3, 4, 8, 0, tzinfo=VN_TZ)  # a Wednesday, no holiday
FIRST_DUE = datetime(2026, 3, 4, 13, 30, tzinfo=VN_TZ)


@dataclass(frozen=True)
class TimerLag:
    dossiers: int
    due: int  # of which this many have their moment in the window
    window: float  # seconds over which those moments are spread
    margin: float  # the live margin the lag includes
    samples: list[float]  # seconds, one per overdue alert
    base_mib: float  # the worker's resident memory when ready, before any dossier
    peak_mib: float  # its peak with every dossier open
    restart_seconds: float | None = None  # a new worker's start to its first state: the changelog read

    def lines(self) -> list[str]:
        if not self.samples:
            return [
                f"timer lag, {self.dossiers:,} open dossiers: no overdue alert published",
                "worker memory: not measured (no alert)",
            ]
        q = statistics.quantiles(self.samples * 2, n=100, method="inclusive")
        per = (self.peak_mib - self.base_mib) * 1024 / self.dossiers
        return [
            f"timer lag (moment passed -> alert published), {self.dossiers:,} open dossiers, "
            f"{self.due:,} moments over {self.window:g} s ({self.due / self.window:,.0f}/s), live margin "
            f"{self.margin:g} s: {len(self.samples):,} alerts, "
            f"p50 {q[49] * 1000:,.0f} ms  p99 {q[98] * 1000:,.0f} ms  max {max(self.samples) * 1000:,.0f} ms",
            f"worker memory with {self.dossiers:,} open dossiers: peak {self.peak_mib:,.0f} MiB, "
            f"{self.base_mib:,.0f} MiB when ready, {per:,.2f} KiB per open dossier; at 1,000,000 "
            f"(extrapolated linearly, an upper bound: the state cache is capped): "
            f"{(self.base_mib + per * 1_000_000 / 1024) / 1024:,.1f} GiB",
            f"restart with {self.dossiers:,} dossiers in the table (start -> first new state published, "
            f"the table read from its changelog): "
            + (f"{self.restart_seconds:,.1f} s" if self.restart_seconds is not None else "not measured"),
        ]


LATER = timedelta(hours=2)  # the dossiers not due in the window: received (and due) two hours later


def received(i: int, offset: timedelta, ingested: datetime) -> DossierEvent:
    dossier = f"TIMER-{i:07d}"
    return DossierEvent(
        dossier_id=dossier, source="onestop", source_event_id=f"{dossier}-rcv", source_seq=1,
        status=Status.RECEIVED, occurred_at=FIRST_RECEIVED + offset,
        ingested_at=ingested, procedure_code=PROCEDURE, unit_code=UNIT, channel=Channel.COUNTER,
    )  # fmt: skip


def timer_lag(
    settings: Settings,
    work: Path,
    dossiers: int,
    window: float,
    rate: float,
    lead: float,
    margin: float,
    say: Say,
) -> TimerLag:
    """``lead``: seconds of the worker's clock before the first moment, for it to start and load
    every dossier (a load still going when the moments pass shows as lag: it is the truth)."""
    start = FIRST_DUE - timedelta(seconds=lead)
    live = settings.model_copy(update={"worker": settings.worker.model_copy(update={
        "clock": "wall", "clock_start": start, "alert_grace": 0.0, "live_margin": margin,
        "tick_interval": max(0.05, margin / 2), "data_dir": work / "timer-worker"})})  # fmt: skip
    ensure_topics(live)
    names = topics_for(live)
    log = work / "timer-worker.log"
    proc = start_worker(live, log)
    began = time.monotonic()  # the worker's clock starts at ``start`` about now
    try:
        wait_ready(proc, log)
        base = memory_mib(proc.pid)
        due = min(dossiers, max(1, int(rate * window)))
        say(f"timer lag: {dossiers:,} open dossiers, {due:,} due over {window:g} s, {lead:g} s ahead")
        with Publisher(live) as pub:
            pub.send_events(
                received(i, timedelta(seconds=i * window / due) if i < due else LATER, start)
                for i in range(dossiers)
            )
        wait_caught_up(live, live.worker.app_id, [names.events], timeout=lead + window, settle=1)
        # Until the worker's clock is past the last moment, and every alert of the window is out
        # (a worker that cannot keep up shows it as lag, not as alerts left uncounted).
        time.sleep(max(0.0, lead + window - (time.monotonic() - began)) + margin)
        wait_for_records(live, names.deadlines, dossiers + due, timeout=max(120.0, window * 5))
        peak = peak_rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    restart = restart_seconds(live, work / "timer-worker-restart.log", start)
    offset = clock_offset(live, names.ticks, margin)
    samples = []
    for msg in read_all(live, names.deadlines):
        alert = codec.decode("vn.dongbo.DeadlineAlert", msg.value() or b"")
        _kind, ts = msg.timestamp()
        if alert["kind"] == "overdue" and ts > 0:
            samples.append(ts / 1000 - (alert["at"].timestamp() - offset))
    return TimerLag(dossiers, due, window, margin, samples, base, peak, restart)


def restart_seconds(
    settings: Settings, log: Path, ingested: datetime, timeout: float = 600.0
) -> float | None:
    """A worker started again on the same group and table: seconds until it publishes the state of
    a new dossier sent as it starts (it first reads the whole table changelog: the price of never
    trusting a local store, docs/guarantees.md#crashes)."""
    names = topics_for(settings)
    before = count_records(settings, names.state)
    began = time.monotonic()
    proc = start_worker(settings, log)
    try:
        with Publisher(settings) as pub:
            pub.send_events([received(9_999_999, LATER, ingested)])
        deadline = began + timeout
        while time.monotonic() < deadline:
            if count_records(settings, names.state) > before:
                return time.monotonic() - began
            if proc.poll() is not None:
                return None
            time.sleep(0.2)
        return None
    finally:
        proc.terminate()
        proc.wait(30)


def wait_for_records(settings: Settings, topic: str, count: int, timeout: float) -> None:
    """Until ``topic`` holds ``count`` records (each dossier's near-deadline alert, fired on receipt
    since the deadline is shorter than the near threshold, and the window's overdue alerts)."""
    deadline = time.monotonic() + timeout
    while count_records(settings, topic) < count and time.monotonic() < deadline:
        time.sleep(0.5)


def clock_offset(settings: Settings, ticks: str, margin: float) -> float:
    """The worker's clock less the real clock, in seconds: from its ticks (the clock's time less
    the margin, sent at a real time the broker stamps). The smallest difference is the one least
    delayed on its way to the broker."""
    diffs = []
    for msg in read_all(settings, ticks):
        mark = watermark_of(msg.value())
        _kind, ts = msg.timestamp()
        if mark is not None and ts > 0:
            diffs.append(mark.timestamp() + margin - ts / 1000)
    if not diffs:
        raise RuntimeError("the worker sent no watermark tick: its clock cannot be mapped to the real one")
    return max(diffs)
