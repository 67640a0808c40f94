"""``dongbo bench``: dongbo's throughput beside the ceilings, measured in one run on the local stack.

Figures, each with what it is a share of:
- **raw ceiling**: the canonical events topic consumed with confluent-kafka and decoded with
  fastavro, nothing else (what any Python consumer of these topics can do here);
- **pipeline on a backlog**: a simulated city published before the worker starts, merged by a real
  worker (normalise, merge, conflicts, deadlines, state, the Redis sink), raw records/s and
  canonical events/s from the worker ready to its consumer group caught up;
- **merge engine in-process** (no Kafka): the same records through ``MergeEngine`` with and
  without the legal rules.

Bounded by the number of dossiers and a timeout; ``--quick`` is a few hundred dossiers.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, TopicPartition

from contract.settings import Settings
from contract.sources import SOURCE_SYSTEMS
from contract.topics import ensure_topics, topics_for
from dongbo.lag import wait_caught_up
from dongbo.processes import SINK_READY_MARK, start_sink, start_worker, wait_ready
from dongbo.replay import replay
from producers.simulator import SimulationConfig, fault_preset, run_simulation
from schemas import codec
from sinks.runner import sink_group
from streams.configured import worker_policy

Say = Callable[[str], None]


@dataclass(frozen=True)
class Figure:
    name: str
    count: int
    seconds: float
    unit: str = "events"

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def line(self, ceiling: Figure | None = None) -> str:
        share = ""
        if ceiling is not None and ceiling.rate:
            share = f"  {100 * self.rate / ceiling.rate:5.1f} % of the raw ceiling"
        figures = f"{self.count:>9,} {self.unit:<8} {self.seconds:8.2f} s {self.rate:>10,.0f}/s"
        return f"{self.name:<50} {figures}{share}"


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
) -> tuple[Figure, Figure]:
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
            lag = wait_caught_up(settings, sink_group(settings, "redis"), [names.state], timeout=timeout)
        seconds = time.monotonic() - began
        if lag:
            raise RuntimeError(f"still {lag} message(s) behind after {timeout:.0f}s (logs in {work})")
    finally:
        for proc, _ in [*procs, (sink, sink_log)]:
            proc.terminate()
        for proc, _ in [*procs, (sink, sink_log)]:
            proc.wait(30)
    events = _count(settings, names.events)
    return (Figure(f"{label}, raw records", records, seconds, "records"),
            Figure(f"{label}, canonical events", events, seconds))  # fmt: skip


def _count(settings: Settings, topic: str) -> int:
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"bench-{uuid.uuid4().hex[:8]}"})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        total = 0
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += int(high or 0) - int(low or 0)
        return total
    finally:
        consumer.close()


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


def run_bench(settings: Settings, dossiers: int, timeout: float, say: Say) -> list[str]:
    config = city(dossiers)
    work = Path(tempfile.mkdtemp(prefix="dongbo-bench-"))
    bench = isolated(settings, work)
    say(f"dongbo bench: {dossiers:,} simulated dossiers over 2 days, every fault (seed 31); work in {work}")
    raw_records, events = pipeline(bench, config, work, timeout, say)
    ceiling = raw_ceiling(bench, topics_for(bench).events, timeout)
    say("in-process engine ...")
    with_rules, without = in_process(bench, config, work)
    return [
        ceiling.line(),
        raw_records.line(),
        events.line(ceiling),
        with_rules.line(),
        without.line(),
    ]
