"""``dongbo reconcile`` (two systems' disagreements) and ``dongbo api`` (the read-only HTTP API)."""

from __future__ import annotations

from pathlib import Path

import typer

from contract.settings import get_settings
from dongbo.cli_output import fail, usage
from dongbo.cli_stats import (
    CHANNEL,
    END,
    FIELD,
    PROCEDURE,
    SOURCE,
    START,
    STATUS,
    UNIT,
    render,
)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile)
    app.command("api")(api)


def reconcile(
    between: list[str] = typer.Option(
        ..., "--between", help="a system; give it twice: --between portal --between onestop"
    ),
    unit: list[str] = UNIT,
    procedure: list[str] = PROCEDURE,
    field: list[str] = FIELD,
    channel: list[str] = CHANNEL,
    source: list[str] = SOURCE,
    status: list[str] = STATUS,
    start: str = START,
    end: str = END,
    fmt: str = typer.Option("table", "--format", help="table | json | csv"),
    output: Path = typer.Option(None, "--output", "-o", help="write the lines to this file instead"),
) -> None:
    """Every dossier on which two systems disagree (presence, status, due date, overdue flag,
    outcome as each reports it), since when, and the cause dongbo found; then a summary by cause.
    The report an official sends to a ministry."""
    import psycopg

    from dongbo import stats_request as sr
    from dongbo.cli_stats import _store
    from sinks.report import reconcile as rc

    if len(between) != 2 or between[0] == between[1]:
        usage("--between: name two different systems (--between portal --between onestop)")
    if fmt not in ("table", "json", "csv"):
        usage(f"--format {fmt!r}: choose table, json or csv")
    store = _store()
    try:
        req = sr.StatsRequest(units=unit or (), procedures=procedure or (), fields=field or (),
                              channels=channel or (), sources=source or (), statuses=status or (),
                              start=start, end=end)  # fmt: skip
        sr.known_systems(store, between)
        lines = store.reconcile(sr.filters(store, req), between[0], between[1])
    except sr.UsageError as exc:
        usage(str(exc))
    except psycopg.Error as exc:  # a store error mid-query: say it, no traceback at officials
        fail(f"the reporting store failed: {exc}")
    finally:
        store.conn.close()
    text = render(lines, fmt)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8-sig" if fmt == "csv" else "utf-8")
        typer.echo(f"{len(lines):,} dossiers written to {output}")
    else:
        typer.echo(text)
    if fmt == "table":
        a, b = between
        typer.echo(f"\n{len(lines):,} dossiers on which {a} and {b} disagree; by field: "
                   + (", ".join(f"{k} {v:,}" for k, v in rc.by_field(lines).items()) or "-"))  # fmt: skip
        if lines:
            typer.echo(render(rc.summary(lines), "table"))


def api(
    host: str = typer.Option(
        None, "--host", help="address to listen on (default: DONGBO_API_BIND, loopback)"
    ),
    port: int = typer.Option(None, "--port", help="port (default: DONGBO_API_PORT, 8080)"),
) -> None:
    """Serve the read-only HTTP API: dossier lookup, statistics, indicators, exports and
    reconciliation, the same answers as the CLI; OpenAPI at /openapi.json, browsable at /docs."""
    import uvicorn

    from dongbo.api import create_app

    settings = get_settings()
    host = host or settings.api.bind
    port = port or settings.api.port
    typer.echo(f"dongbo api on http://{host}:{port} (OpenAPI: /openapi.json, /docs)", err=True)
    uvicorn.run(create_app(), host=host, port=port, log_level="info")
