"""The /proc readings the benchmarks rest on."""

import os
import time

from dongbo.bench_io import cpu_seconds, memory_mib, peak_rss_mib


def test_cpu_seconds_counts_work_not_waiting() -> None:
    before = cpu_seconds(os.getpid())
    time.sleep(0.3)  # waiting uses no CPU
    slept = cpu_seconds(os.getpid()) - before
    began = time.process_time()
    while time.process_time() - began < 0.3:
        pass
    worked = cpu_seconds(os.getpid()) - before - slept
    assert slept < 0.1
    assert 0.2 <= worked <= 1.0


def test_memory_readings_of_this_process() -> None:
    now, peak = memory_mib(os.getpid()), peak_rss_mib(os.getpid())
    assert 0 < now <= peak
    assert memory_mib(2**22 + 7) == 0  # no such process: 0, not an error
