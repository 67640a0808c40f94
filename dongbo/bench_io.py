"""What the benchmarks read from the broker and from /proc, and how they print a figure (shared by
``dongbo.bench``, ``dongbo.bench_timers`` and ``dongbo.bench_prototype``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from contract.settings import Settings

Say = Callable[[str], None]


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident memory (Linux ``VmHWM``), in MiB; 0 where it cannot be read."""
    return memory_mib(pid, "VmHWM")


def memory_mib(pid: int, field: str = "VmRSS") -> float:
    """A memory figure of ``/proc/<pid>/status`` (``VmRSS`` now, ``VmHWM`` peak), in MiB; 0 where
    it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far, user and system (``/proc/<pid>/stat``), in seconds:
    unlike the wall clock, it does not count the time the process waited for the other processes
    sharing the cores."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_records(settings: Settings, topic: str) -> int:
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


def read_all(settings: Settings, topic: str) -> list[Any]:
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"bench-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.partition.eof": True})  # fmt: skip
    out: list[Any] = []
    try:
        consumer.subscribe([topic])
        quiet = 0
        while quiet < 3:
            msgs = consumer.consume(num_messages=5000, timeout=1.0)
            real = [m for m in msgs if m.error() is None]
            out += real
            quiet = 0 if real else quiet + 1
        return out
    finally:
        consumer.close()


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
