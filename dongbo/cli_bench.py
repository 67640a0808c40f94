"""``dongbo bench``: throughput beside the ceilings, on the local stack (docs/benchmarks.md)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)


def bench(
    quick: bool = typer.Option(False, "--quick", help="a few hundred dossiers: a couple of minutes"),
    dossiers: int = typer.Option(3000, min=50, max=100_000, help="simulated dossiers (ignored with --quick)"),
    timeout: float = typer.Option(900.0, min=10.0, help="seconds any one measurement may take at most"),
) -> None:
    """Measure the raw ceiling, the whole pipeline on a backlog and the merge engine in-process, in
    one run on the local stack (started if needed), and print each figure beside the ceiling."""
    from contract.settings import get_settings
    from dongbo import stack
    from dongbo.bench import run_bench

    settings = get_settings()
    stack.up(settings, lambda line: typer.echo(line, err=True), names=["kafka", "redis"])
    for line in run_bench(settings, 300 if quick else dossiers, timeout, lambda s: typer.echo(s, err=True)):
        typer.echo(line)
