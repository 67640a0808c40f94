"""The worker caps glibc's malloc arenas before RocksDB's threads start (``streams.app``)."""

import os
import subprocess
import sys

PROGRAM = """
import ctypes, ctypes.util, sys, threading
if sys.argv[1] == "capped":
    from streams.app import limit_malloc_arenas
    limit_malloc_arenas()
def work():
    for _ in range(200):
        chunks = [bytearray(200_000) for _ in range(5)]
        del chunks
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ctypes.CDLL(ctypes.util.find_library("c")).malloc_stats()  # one "Arena N:" block each, on stderr
"""


def arenas(mode: str, **env: str) -> int:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    proc = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True,
                          env=environ, check=True, timeout=60)  # fmt: skip
    return sum(1 for line in proc.stderr.splitlines() if line.startswith("Arena "))


def test_eight_allocating_threads_share_two_arenas() -> None:
    assert arenas("uncapped") > 2  # glibc's default: an arena per thread, up to 8 per core
    assert arenas("capped") == 2


def test_an_operators_own_setting_wins() -> None:
    assert arenas("capped", MALLOC_ARENA_MAX="4") == 4
