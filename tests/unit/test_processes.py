"""Stopping a child process (``dongbo.processes.stop``): one that will not stop says where it is stuck."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from dongbo.processes import WorkerFailed, stop

STUBBORN = """
import faulthandler, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a process stuck where SIGTERM is not acted on
faulthandler.register(signal.SIGUSR1, all_threads=True)  # as dongbo.cli.main does
print("ready", flush=True)
def stuck_in_close():
    time.sleep(120)
stuck_in_close()
"""


def _start(code: str, log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - the child writes to it after this returns
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while b"ready" not in log.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc


def test_a_process_that_does_not_stop_is_killed_and_shows_its_stack(tmp_path: Path) -> None:
    log = tmp_path / "stuck.log"
    proc = _start(STUBBORN, log)
    with pytest.raises(WorkerFailed) as failed:
        stop(proc, log, timeout=1)
    assert proc.poll() is not None  # killed, not left behind
    assert "did not stop within 1s" in str(failed.value)
    assert "stuck_in_close" in str(failed.value)  # the stack says where


def test_a_process_that_stops_is_simply_stopped(tmp_path: Path) -> None:
    log = tmp_path / "ok.log"
    proc = _start("import time; print('ready', flush=True); time.sleep(120)", log)
    stop(proc, log, timeout=10)
    assert proc.returncode == -15  # SIGTERM's default action
