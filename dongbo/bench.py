"""``dongbo bench``: dongbo's throughput beside the ceilings, measured in one run on the local stack.

Figures, each with what it is a share of:
- **raw ceiling**: the canonical events topic consumed with confluent-kafka and decoded with
  fastavro, nothing else (what any Python consumer of these topics can do here);
- **pipeline on a backlog**: a simulated city published before the worker starts, merged by a real
  worker (normalise, merge, conflicts, deadlines, state, the Redis sink), raw records/s and
  canonical events/s from the worker ready to its consumer group caught up;
- **merge engine in-process** (no Kafka): the same records through ``MergeEngine`` with and
  without the legal rules;
- **without Faust**: the same records normalised and merged by the engine behind a plain
  confluent-kafka loop (``dongbo.bench_prototype``), beside the Faust worker's rate.

Bounded by the number of dossiers and a timeout; ``--quick`` is a few hundred dossiers.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, TopicPartition

from contract.settings import Settings, settings_env
from contract.sources import CAPTURED_AT, SOURCE_SYSTEMS
from contract.topics import ensure_topics, topics_for
from dongbo.bench_io import Figure, Say, count_records, peak_rss_mib, read_all
from dongbo.bench_prototype import prototype
from dongbo.bench_timers import timer_lag
from dongbo.lag import wait_caught_up
from dongbo.processes import SINK_READY_MARK, start_sink, start_worker, wait_ready
from dongbo.replay import records_in_send_order, replay
from producers.publisher import Publisher
from producers.simulator import SimulationConfig, fault_preset, run_simulation
from schemas import codec
from sinks.redis_sink import redis_sink_group
from streams.configured import worker_policy
from streams.model import utcnow


def isolated(base: Settings, work: Path, **worker: object) -> Settings:
    """Settings with their own topics, consumer group and table folder (a bench never touches the
    demo's data)."""
    tag = f"bench{uuid.uuid4().hex[:6]}"
    ws = base.worker.model_copy(update={
        "app_id": f"dongbo-{tag}", "data_dir": work / "worker", "web_port": 0, "topic_prefix": f"{tag}.",
        "clock": "stream", **worker,
    })  # fmt: skip
    return base.model_copy(update={"worker": ws})


def raw_ceiling(settings: Settings, topic: str, timeout: float) -> Figure:
    """Consume ``topic`` from the start to its current end and decode every value, nothing else."""
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"bench-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.partition.eof": True})  # fmt: skip
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in meta.partitions
        }
        remaining = {p for p, end in ends.items() if end > 0}
        consumer.subscribe([topic])
        count, began = 0, time.perf_counter()
        deadline = time.monotonic() + timeout
        while remaining and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=5000, timeout=0.5):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        remaining.discard(msg.partition() or 0)
                        continue
                    raise RuntimeError(err)
                codec.decode("vn.dongbo.DossierEvent", msg.value() or b"")
                count += 1
                partition, offset = msg.partition() or 0, msg.offset() or 0
                if offset >= ends[partition] - 1:
                    remaining.discard(partition)
        return Figure("raw ceiling (confluent-kafka + fastavro)", count, time.perf_counter() - began)
    finally:
        consumer.close()


def pipeline(
    settings: Settings,
    config: SimulationConfig,
    work: Path,
    timeout: float,
    say: Say,
    workers: int = 1,
    label: str = "pipeline on a backlog",
) -> Run:
    """A city published before the workers start; the time from the first worker ready to every
    stage caught up: the workers' group on the source topics and the events, then the Redis sink's
    group on the states. ``workers`` processes share the partitions in one consumer group."""
    ensure_topics(settings)
    records = run_simulation(settings, config).records_total
    names = topics_for(settings)
    say(f"published {records:,} raw records; starting the Redis sink and {workers} worker(s)")
    sink_log = work / "sink.log"
    sink = start_sink(settings, sink_log)
    procs = []
    try:
        wait_ready(sink, sink_log, mark=SINK_READY_MARK)
        for i in range(workers):
            own = settings.model_copy(update={"worker": settings.worker.model_copy(
                update={"data_dir": work / f"worker{i}"})})  # fmt: skip
            procs.append((start_worker(own, work / f"worker{i}.log"), work / f"worker{i}.log"))
        for proc, log in procs[:1]:
            wait_ready(proc, log)
        began = time.monotonic()
        for proc, log in procs[1:]:
            wait_ready(proc, log)
        inputs = [names.source(s) for s in SOURCE_SYSTEMS] + [names.events]
        lag = wait_caught_up(settings, settings.worker.app_id, inputs, timeout=timeout, settle=2)
        if not lag:
            lag = wait_caught_up(settings, redis_sink_group(settings), [names.state], timeout=timeout)
        seconds = time.monotonic() - began
        if lag:
            raise RuntimeError(f"still {lag} message(s) behind after {timeout:.0f}s (logs in {work})")
        peak = max(peak_rss_mib(proc.pid) for proc, _ in procs)
    finally:
        for proc, _ in [*procs, (sink, sink_log)]:
            proc.terminate()
        for proc, _ in [*procs, (sink, sink_log)]:
            proc.wait(30)
    events = count_records(settings, names.events)
    return Run(Figure(f"{label}, raw records", records, seconds, "records"),
               Figure(f"{label}, canonical events", events, seconds), peak)  # fmt: skip


@dataclass(frozen=True)
class Run:
    records: Figure
    events: Figure
    peak_mib: float  # the largest worker's peak resident memory


def in_process(settings: Settings, config: SimulationConfig, work: Path) -> tuple[Figure, Figure]:
    """The same city's records through the worker's engine, no Kafka (normalising included)."""
    records = work / "records"
    run_simulation(settings, config, truth_path=work / "truth.jsonl", out=records)
    policy = worker_policy(settings)
    out = []
    for name, pol in (
        ("with the legal rules", policy),
        ("without the legal rules", replace(policy, rules=None)),
    ):
        began = time.perf_counter()
        result = replay(records, pol, settings.kafka.partitions)
        out.append(
            Figure(f"merge engine in-process, {name}", result.records, time.perf_counter() - began, "records")
        )
    return out[0], out[1]


def city(dossiers: int) -> SimulationConfig:
    """The benchmark's city: two days, every fault, a fixed seed."""
    return SimulationConfig(
        seed=31, dossiers=dossiers, days=2, start=date(2026, 3, 2), faults=fault_preset("all")
    )


def faust_ceiling(settings: Settings, mode: str, expected: int, work: Path, timeout: float) -> Figure:
    """A minimal Faust agent over the canonical events (``dongbo.faust_ceiling``), in its own process."""
    result = work / f"ceiling-{mode}.json"
    log = work / f"ceiling-{mode}.log"
    env = {**os.environ, **settings_env(settings), "PYTHONUNBUFFERED": "1"}
    topic = topics_for(settings).events
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dongbo.faust_ceiling", mode, topic, str(expected), str(result)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while not result.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Faust ceiling ({mode}) did not finish (log: {log})")
            time.sleep(0.2)
        got = json.loads(result.read_text())
    finally:
        proc.terminate()
        proc.wait(30)
    name = {"decode": "Faust ceiling: iterate + decode", "table": "Faust ceiling: + batched table writes"}[
        mode
    ]
    return Figure(name, got["count"], got["seconds"])


@dataclass(frozen=True)
class Latency:
    offered: float  # records/s published
    sent: int
    samples: list[float]  # seconds, one per state published
    margin: float

    def line(self) -> str:
        if not self.samples:
            return f"latency at {self.offered:,.0f} records/s offered: no state published"
        q = statistics.quantiles(self.samples, n=100, method="inclusive")
        return (
            f"latency capture -> state, {self.offered:,.0f} rec/s offered ({self.sent:,} sent), "
            f"live margin {self.margin:g} s: p50 {q[49] * 1000:,.0f} ms  p95 {q[94] * 1000:,.0f} ms  "
            f"p99 {q[98] * 1000:,.0f} ms"
        )


def latency(
    settings: Settings, config: SimulationConfig, work: Path, rate: float, seconds: float, margin: float,
    say: Say,
) -> Latency:  # fmt: skip
    """A live worker (wall clock) fed the city's records at ``rate`` records/s for ``seconds``, each
    captured as it is sent; per state published, its broker timestamp less the latest capture it
    shows. A record is shown once its partition's time passes its capture: once every source has
    delivered past it, or the live tick (every ``margin``/2 s, ``margin`` behind the wall) does."""
    live = settings.model_copy(update={"worker": settings.worker.model_copy(update={
        "clock": "wall", "live_margin": margin, "tick_interval": max(0.05, margin / 2),
        "data_dir": work / "latency-worker"})})  # fmt: skip
    ensure_topics(live)
    records = work / "latency-records"
    run_simulation(live, config, out=records)
    names = topics_for(live)
    proc = start_worker(live, work / "latency-worker.log")
    sent = 0
    try:
        wait_ready(proc, work / "latency-worker.log")
        budget = int(rate * seconds)
        say(f"latency: {budget:,} records at {rate:,.0f}/s to a live worker (margin {margin:g} s)")
        with Publisher(live) as pub:
            began = time.monotonic()
            for rec in records_in_send_order(records):
                if sent >= budget:
                    break
                ahead = began + sent / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
                headers = {**rec.headers, CAPTURED_AT: utcnow().isoformat()}
                pub.send(names.source(rec.system), rec.key, rec.value, headers)
                sent += 1
        inputs = [names.source(x) for x in SOURCE_SYSTEMS] + [names.events]
        wait_caught_up(live, live.worker.app_id, inputs, timeout=600, settle=2)
        time.sleep(margin + 1)  # the last tick shows the last records
    finally:
        proc.terminate()
        proc.wait(30)
    samples = []
    for msg in read_all(live, names.state):
        state = codec.decode("vn.dongbo.DossierState", msg.value() or b"")
        seen = [v["last_seen_at"] for v in state["sources"].values()]
        _kind, ts = msg.timestamp()
        if seen and ts > 0:
            samples.append(ts / 1000 - max(seen).timestamp())
    return Latency(rate, sent, samples, margin)


# The timer-lag run's worker clock starts this far before the first moment, plus the time to load
# its open dossiers at a rate it beats on this machine (a slower load shows as lag).
TIMER_LEAD = 20.0
TIMER_LOAD_RATE = 600.0
CITY_YEAR_RECORDS = 20_000_000  # raw records of a Da Nang-sized city in a year (the estimate)


def run_bench(
    settings: Settings, dossiers: int, timeout: float, say: Say, *, rate: float = 2000.0,
    latency_seconds: float = 10.0, workers: tuple[int, ...] = (1, 2, 3), timer_dossiers: int = 100_000,
    timer_window: float = 60.0, timer_rate: float = 100.0,
) -> list[str]:  # fmt: skip

    config = city(dossiers)
    work = Path(tempfile.mkdtemp(prefix="dongbo-bench-"))
    say(f"dongbo bench: {dossiers:,} simulated dossiers over 2 days, every fault (seed 31); work in {work}")
    runs: dict[int, Run] = {}
    first: Settings | None = None
    for n in workers:
        own = isolated(settings, work / f"w{n}")
        first = first or own
        runs[n] = pipeline(own, config, work / f"w{n}", timeout, say, workers=n,
                           label=f"pipeline on a backlog, {n} worker{'s' if n > 1 else ''}")  # fmt: skip
    assert first is not None
    one = runs[workers[0]]
    say("ceilings on the same canonical events ...")
    ceiling = raw_ceiling(first, topics_for(first).events, timeout)
    decode = faust_ceiling(first, "decode", one.events.count, work, timeout)
    table = faust_ceiling(first, "table", one.events.count, work, timeout)
    say("in-process engine ...")
    with_rules, without = in_process(isolated(settings, work / "inproc"), config, work / "inproc")
    say("the same work without Faust (a prototype loop on confluent-kafka) ...")
    proto = isolated(settings, work / "proto")
    ensure_topics(proto)
    run_simulation(proto, config)
    no_faust = prototype(proto, timeout)
    lat = latency(isolated(settings, work / "latency"), config, work / "latency", rate, latency_seconds, 0.25,
                  say)  # fmt: skip
    timers = timer_lag(isolated(settings, work / "timers"), work / "timers", timer_dossiers, timer_window,
                       timer_rate, lead=TIMER_LEAD + timer_dossiers / TIMER_LOAD_RATE, margin=0.25,
                       say=say)  # fmt: skip
    best = max(runs.values(), key=lambda r: r.records.rate)
    per_dossier = one.peak_mib * 1024 / dossiers
    lines = [ceiling.line(), decode.line(ceiling), table.line(ceiling)]
    for run in runs.values():
        lines += [run.records.line(), run.events.line(ceiling) + _share(run.events, table, "batched-table")]
    lines += [
        with_rules.line(),
        without.line(),
        no_faust.line() + f"  {no_faust.rate / one.records.rate:.1f}x the 1-worker pipeline's records/s",
        lat.line(),
        *timers.lines(),
        f"peak worker memory (1 worker, {dossiers:,} dossiers): {one.peak_mib:,.0f} MiB "
        f"(upper bound per dossier {per_dossier:,.1f} KiB, start-up included)",
        f"city-year ({CITY_YEAR_RECORDS:,} raw records), extrapolated from the measured rates: "
        f"{_hours(CITY_YEAR_RECORDS / one.records.rate)} with 1 worker, "
        f"{_hours(CITY_YEAR_RECORDS / best.records.rate)} at the best measured "
        f"({best.records.name.rsplit(', ', 2)[-2]})",
    ]
    return lines


def _share(fig: Figure, of: Figure, name: str) -> str:
    return f"  {100 * fig.rate / of.rate:5.1f} % of the {name} ceiling" if of.rate else ""


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h"
