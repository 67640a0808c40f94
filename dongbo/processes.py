"""Starting a worker or a sink as a child process and waiting until it is ready (demo, bench, tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from contract.settings import Settings, settings_env

READY_MARK = "Worker]: Ready"


class WorkerFailed(RuntimeError):
    pass


SINK_READY_MARK = "sink ready"  # what `dongbo sink` logs once it is consuming


def start_worker(settings: Settings, logfile: Path, loglevel: str = "info") -> subprocess.Popen[bytes]:
    return _start(settings, logfile, ["worker", "--loglevel", loglevel])


def start_sink(settings: Settings, logfile: Path, name: str = "redis") -> subprocess.Popen[bytes]:
    return _start(settings, logfile, ["sink", name])


def start_notifier(settings: Settings, logfile: Path) -> subprocess.Popen[bytes]:
    return _start(settings, logfile, ["notify"])


def _start(settings: Settings, logfile: Path, args: list[str]) -> subprocess.Popen[bytes]:
    logfile.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **settings_env(settings), "PYTHONUNBUFFERED": "1"}
    with open(logfile, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dongbo", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )


def wait_ready(
    proc: subprocess.Popen[bytes],
    logfile: Path,
    timeout: float = 90.0,
    since: int = 0,
    mark: str = READY_MARK,
) -> None:
    """Wait for the ready line (Faust's 'Worker ready', or ``SINK_READY_MARK``) after ``since`` bytes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise WorkerFailed(f"{logfile.stem} exited with {proc.returncode}:\n{tail(logfile)}")
        try:
            with open(logfile, "rb") as f:
                f.seek(since)
                if mark.encode() in f.read():
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise WorkerFailed(f"{logfile.stem} not ready after {timeout:.0f}s:\n{tail(logfile)}")


def stop(proc: subprocess.Popen[bytes], logfile: Path, timeout: float = 60.0) -> None:
    """SIGTERM, and wait for the process to end. One still running after ``timeout`` writes its
    threads' stacks to its log (SIGUSR1, ``dongbo.cli.main``), is killed, and the error shows
    where it was stuck."""
    if proc.poll() is not None:
        return
    since = logfile.stat().st_size if logfile.exists() else 0
    proc.terminate()
    try:
        proc.wait(timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    proc.send_signal(signal.SIGUSR1)
    time.sleep(2)
    proc.kill()
    proc.wait(10)
    with open(logfile, "rb") as f:
        f.seek(since)
        after = f.read().decode(errors="replace")
    raise WorkerFailed(f"{logfile.stem} did not stop within {timeout:.0f}s of SIGTERM; its log since:\n"
                       f"{after}")  # fmt: skip


def tail(logfile: Path, n: int = 30) -> str:
    try:
        return "\n".join(logfile.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"
