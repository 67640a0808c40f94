"""``dongbo import``: a file of dossier events (JSON Lines) or another system's export (CSV, XES)."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import typer

from contract.settings import get_settings


def register(app: typer.Typer) -> None:
    app.command("import")(import_cmd)


def _usage(msg: str) -> typer.Exit:
    typer.secho(f"error: {msg}", err=True, fg=typer.colors.RED)
    return typer.Exit(2)


def import_cmd(
    path: Path = typer.Argument(..., help="the file; .gz is read compressed"),
    source: str = typer.Option(
        None, "--source", "-s", help="source system name (default: the mapping's 'source')"
    ),
    fmt: str = typer.Option(
        None,
        "--format",
        "-f",
        help="dossier-events (JSON Lines), csv or xes; default: from the file name",
    ),
    mapping: str = typer.Option(
        None, "--mapping", "-m", help="mapping file (csv, xes), or a shipped one by name: wabo-receipt"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="parse and report; send nothing to Kafka"),
    limit: int = typer.Option(None, "--limit", min=1, help="read at most N rows"),
    direct: bool = typer.Option(
        False, "--direct", help="publish to dossier.events, skipping src.import.dossier and its checks"
    ),
    output: Path = typer.Option(
        None, "--output", "-o", help="also write the events here as dossier-events JSON Lines"
    ),
    progress_every: int = typer.Option(
        10_000, "--progress-every", min=0, help="a progress line on stderr every N rows (0: none)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
    metrics_port: int = typer.Option(
        0,
        "--metrics-port",
        min=0,
        max=65535,
        help="serve the import's progress as Prometheus metrics on this loopback port while it runs "
        "(the local stack's Prometheus scrapes it); 0: none",
    ),
) -> None:
    """Import a file of dossier events, publishing canonical events keyed by dossier id.

    Bad rows are skipped and counted by reason, never fatal; the same file twice gives the same ids.

    Exit code 0: done (skipped rows included); 1: stopped early or not all published; 2: usage.
    """
    from confluent_kafka import KafkaException

    from producers.importers import (
        FORMATS,
        ImportFileError,
        ImportJob,
        MappingError,
        detect_format,
        import_to_kafka,
        load_mapping,
        run_import,
    )

    fmt = fmt or detect_format(path) or ""
    if fmt not in FORMATS:
        raise _usage(f"--format must be one of {', '.join(FORMATS)} (cannot tell from {path.name!r})")
    if not path.is_file():
        raise _usage(f"{path}: no such file")
    if fmt != "dossier-events" and not mapping:
        raise _usage(f"--format {fmt} needs --mapping (a file, or a shipped name such as wabo-receipt)")
    try:
        loaded = load_mapping(mapping) if mapping and fmt != "dossier-events" else None
    except MappingError as exc:
        raise _usage(str(exc)) from None

    with ExitStack() as stack:
        out = stack.enter_context(output.open("w", encoding="utf-8")) if output else None
        on_start = _serve_metrics(stack, metrics_port) if metrics_port else None
        job = ImportJob(
            path=path,
            fmt=fmt,
            source=source,
            mapping=loaded,
            limit=limit,
            output=out,
            progress=(lambda r: typer.echo(r.progress_line(), err=True)) if progress_every else None,
            progress_every=progress_every,
            on_start=on_start,
        )
        try:
            report = run_import(job) if dry_run else import_to_kafka(job, get_settings(), direct=direct)
        except ImportFileError as exc:
            raise _usage(str(exc)) from None
        except KafkaException as exc:  # e.g. no broker: say so, no traceback
            typer.secho(f"error: Kafka: {exc} (is the stack up? `dongbo stack up`)", err=True, fg="red")
            raise typer.Exit(1) from None
    typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2) if as_json else report.summary())
    if report.error:
        typer.secho(f"error: {report.error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)


def _serve_metrics(stack: ExitStack, port: int) -> Callable[[Any], None]:
    """Serve the live report on ``port`` and name it to the local stack's Prometheus (a target file
    removed when the import ends)."""
    import os

    from prometheus_client import CollectorRegistry, start_http_server

    from dongbo.stack import write_targets
    from producers.importers.metrics import ImportCollector

    settings = get_settings()

    def start(report: Any) -> None:
        registry = CollectorRegistry()
        registry.register(ImportCollector(report))
        start_http_server(port, addr=settings.worker.web_bind, registry=registry)
        targets = settings.stack.home / "prometheus" / "targets"
        if targets.is_dir():
            path = targets / f"import-{os.getpid()}.json"
            write_targets(path, [f"127.0.0.1:{port}"], {"app": settings.worker.app_id})
            stack.callback(path.unlink, missing_ok=True)
        typer.echo(f"import metrics on http://{settings.worker.web_bind}:{port}/metrics", err=True)

    return start
