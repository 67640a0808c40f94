"""Starting a worker as a child process and waiting until it is ready (demo and tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from contract.settings import Settings, settings_env

READY_MARK = "Worker]: Ready"


class WorkerFailed(RuntimeError):
    pass


def start_worker(settings: Settings, logfile: Path, loglevel: str = "info") -> subprocess.Popen[bytes]:
    logfile.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **settings_env(settings), "PYTHONUNBUFFERED": "1"}
    with open(logfile, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dongbo", "worker", "--loglevel", loglevel],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )


def wait_ready(proc: subprocess.Popen[bytes], logfile: Path, timeout: float = 90.0, since: int = 0) -> None:
    """Wait for Faust's 'Worker ready' line (after ``since`` bytes of the log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise WorkerFailed(f"worker exited with {proc.returncode}:\n{tail(logfile)}")
        try:
            with open(logfile, "rb") as f:
                f.seek(since)
                if READY_MARK.encode() in f.read():
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise WorkerFailed(f"worker not ready after {timeout:.0f}s:\n{tail(logfile)}")


def tail(logfile: Path, n: int = 30) -> str:
    try:
        return "\n".join(logfile.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"
