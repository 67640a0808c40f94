"""``dongbo bench``: throughput beside the ceilings, on the local stack (docs/benchmarks.md)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)


def bench(
    quick: bool = typer.Option(False, "--quick", help="a few hundred dossiers: a couple of minutes"),
    dossiers: int = typer.Option(3000, min=50, max=100_000, help="simulated dossiers (ignored with --quick)"),
    timeout: float = typer.Option(900.0, min=10.0, help="seconds any one measurement may take at most"),
    rate: float = typer.Option(2000.0, min=10.0, help="offered load of the latency run, raw records/s"),
    latency_seconds: float = typer.Option(10.0, min=1.0, help="how long the latency run offers that load"),
    workers: str = typer.Option("1,2,3", help="worker counts to run the backlog with (one consumer group)"),
    timer_dossiers: int = typer.Option(
        100_000, min=100, max=1_000_000, help="open dossiers of the timer-lag run (2,000 with --quick)"
    ),
    timer_window: float = typer.Option(60.0, min=1.0, help="seconds the timer run's moments pass over"),
    timer_rate: float = typer.Option(100.0, min=1.0, help="moments passing per second then"),
) -> None:
    """Measure, in one run on the local stack (started if needed): the raw ceiling and Faust's own
    ceilings, the whole pipeline on a backlog with 1, 2 and 3 workers, the merge engine in-process,
    latency at a fixed offered load, timer lag and memory with many open dossiers, and a city-year
    extrapolated; each figure is
    printed beside the ceilings measured in the same run."""
    from contract.settings import get_settings
    from dongbo import stack
    from dongbo.bench import run_bench

    settings = get_settings()
    stack.up(settings, lambda line: typer.echo(line, err=True), names=["kafka", "redis"])
    try:
        counts = tuple(int(n) for n in workers.split(","))
    except ValueError:
        raise typer.BadParameter(f"--workers takes numbers separated by commas, not {workers!r}") from None
    lines = run_bench(
        settings, 300 if quick else dossiers, timeout, lambda s: typer.echo(s, err=True), rate=rate,
        latency_seconds=3.0 if quick else latency_seconds, workers=counts,
        timer_dossiers=2000 if quick else timer_dossiers, timer_window=10.0 if quick else timer_window,
        timer_rate=timer_rate,
    )  # fmt: skip
    for line in lines:
        typer.echo(line)
