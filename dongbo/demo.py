"""The demo: a simulated working day of the city replayed through the running stack, then a summary."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import typer
from redis import Redis

from contract.settings import Settings
from contract.sources import SOURCE_SYSTEMS
from contract.topics import topics_for
from dongbo.lag import wait_caught_up
from dongbo.processes import READY_MARK, SINK_READY_MARK, start_sink, start_worker, wait_ready
from dongbo.stack import pid_alive, port_open
from dongbo.watermark import send_watermark
from sinks.redis_sink import keys_for, redis_sink_group
from sinks.runner import sink_group


def _say(msg: str) -> None:
    typer.echo(msg, err=True)


def ensure_worker(settings: Settings) -> int:
    """Start the demo worker, and the Redis and reporting sinks beside it, in the background unless
    they run; return the worker's pid."""
    _ensure(settings, "sink", settings.worker.sink_web_port, "DONGBO_WORKER_SINK_WEB_PORT")
    _ensure(settings, "sink-report", settings.report.web_port, "DONGBO_REPORT_WEB_PORT")
    return _ensure(settings, "worker", settings.worker.web_port, "DONGBO_WORKER_WEB_PORT")


def _ensure(settings: Settings, name: str, port: int, port_setting: str) -> int:
    home = settings.stack.home
    pidfile, logfile = home / f"{name}.pid", home / f"{name}.log"
    try:
        pid = int(pidfile.read_text())
        if pid_alive(pid):
            _say(f"{name}: already running (pid {pid}), log {logfile}")
            return pid
    except (OSError, ValueError):
        pass
    if port and port_open("127.0.0.1", port):
        raise typer.BadParameter(
            f"port {port} (the {name}'s metrics) is taken by another process: stop it, or set "
            f"{port_setting} to a free port"
        )
    since = logfile.stat().st_size if logfile.exists() else 0
    if name == "worker":
        proc, mark = start_worker(settings, logfile), READY_MARK
    else:
        proc, mark = (
            start_sink(settings, logfile, "report" if name == "sink-report" else "redis"),
            SINK_READY_MARK,
        )
    pidfile.write_text(str(proc.pid))
    _say(f"{name}: starting (pid {proc.pid}), log {logfile}")
    wait_ready(proc, logfile, timeout=120, since=since, mark=mark)
    _say(f"{name}: ready")
    return proc.pid


def stop_worker(settings: Settings) -> bool:
    """Stop the demo worker and its sinks; False if none was started here."""
    stopped = [_stop(settings.stack.home / f"{name}.pid") for name in ("worker", "sink", "sink-report")]
    return any(stopped)


def _stop(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text())
    except (OSError, ValueError):
        return False
    if pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not pid_alive(pid):
                break
            time.sleep(0.2)
    pidfile.unlink(missing_ok=True)
    return True


def run_demo(settings: Settings, dossiers: int, seed: int) -> None:
    from producers.simulator import SimulationConfig, run_simulation

    # A replayed day is judged in its own time (the stream's watermark), not today's wall clock.
    settings = settings.model_copy(update={"worker": settings.worker.model_copy(update={"clock": "stream"})})
    ensure_worker(settings)
    truth = settings.stack.home / "demo-truth.jsonl"
    _say(f"simulate: {dossiers} dossiers of one working day (seed {seed}), truth in {truth}")
    started = time.monotonic()
    summary = run_simulation(
        settings,
        SimulationConfig(seed=seed, dossiers=dossiers, days=1),
        truth_path=truth,
        progress=lambda line: _say(f"simulate: {line}"),
    )
    names = topics_for(settings)
    _say("waiting for the worker to catch up ...")
    sink = redis_sink_group(settings)
    lag = wait_caught_up(
        settings,
        settings.worker.app_id,
        [names.source(s) for s in SOURCE_SYSTEMS] + [names.events],
        timeout=600,
        progress=lambda n: _say(f"  {n} message(s) still to process") if n else None,
    )
    if not lag:
        # Every partition's stream time to the end of the run, so what falls due after a
        # partition's last event (an overdue dossier, a disagreement outliving its tolerance) fires.
        _say(f"watermark: stream time to the end of the run, {summary.end.isoformat()}")
        send_watermark(settings, summary.end)
        lag = wait_caught_up(settings, settings.worker.app_id, [names.ticks], timeout=300)
    if not lag:
        _say("waiting for the Redis and reporting sinks to catch up ...")
        lag = wait_caught_up(settings, sink, [names.state], timeout=300)
        lag += wait_caught_up(settings, sink_group(settings, "report"), [names.state], timeout=300)
    elapsed = time.monotonic() - started
    print_summary(settings, summary, lag, elapsed, truth)


def print_summary(settings: Settings, summary: object, lag: int, elapsed: float, truth: Path) -> None:
    redis = Redis.from_url(settings.redis.url, **settings.redis.auth(), decode_responses=True)
    keys = keys_for(settings)
    stats = redis.hgetall(keys.stats)
    by_status = Counter({k.split("=", 1)[1]: int(v) for k, v in stats.items() if k.startswith("status=")})
    by_outcome = Counter({k.split("=", 1)[1]: int(v) for k, v in stats.items() if k.startswith("outcome=")})
    returned = redis.smembers(keys.members("status=RETURNED")) or redis.smembers(keys.members("all"))
    sample = next(iter(returned), "")
    out = [
        "",
        "dongbo demo: a simulated working day, end to end",
        f"  simulated: {summary}",
        f"  processed in {elapsed:.1f}s; worker lag now {lag}",
        f"  dossiers with a unified status in Redis: {int(stats.get('all', 0))}",
        "  by status: " + ", ".join(f"{k} {v}" for k, v in by_status.most_common() if v),
        "  by outcome: " + ", ".join(f"{k} {v}" for k, v in by_outcome.most_common() if v),
        "",
        "Where to look:",
        f"  dongbo dossier {sample}            one dossier, every system's view (add --json)",
        "  dongbo dlq list                      input that could not be used, with the reason",
        "  dongbo stats --by unit --by outcome  figures (thống kê)",
        "  dongbo stats --indicator 2.1         on-time rate, legal and as each system reports it",
        "  dongbo export --outcome open_overdue -o qua-han.xlsx   the dossiers behind a figure",
        "  dongbo stats verify                  every figure recounted from dossier.state",
        "  dongbo reconcile --between portal --between onestop   where two systems disagree, and why",
        "  dongbo api                           the same answers over HTTP (OpenAPI at /docs)",
        f"  http://127.0.0.1:{settings.worker.web_port}/metrics   the worker's Prometheus metrics",
        f"  http://{settings.monitoring.prometheus}/classic/alerts   Prometheus: what fires",
        f"  http://{settings.monitoring.alertmanager}   Alertmanager: what was sent to operations",
        f"  redis-cli -u {settings.redis.url} hgetall {keys.stats}   live statistics",
        f"  {truth}   the simulator's ground truth",
        "  make stop                            stop the worker and the stack",
    ]
    typer.echo("\n".join(out))
