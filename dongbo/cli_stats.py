"""``dongbo stats`` (figures, indicators, verify, rebuild) and ``dongbo export`` (the list behind a
figure)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer

from contract.settings import get_settings
from dongbo.cli_output import fail, say, usage

stats_app = typer.Typer(
    help="Statistics (thống kê) from the reporting store: figures by period and dimension, the Decision "
    "766 indicators, a recount (verify) and a rebuild. With no sub-command: the figures.",
)

# Filters shared by `stats` and `export` (one definition: the figure and its list select alike).
UNIT = typer.Option(None, "--unit", help="unit (đơn vị) code; repeat for several")
PROCEDURE = typer.Option(None, "--procedure", help="procedure (thủ tục) code; repeat for several")
FIELD = typer.Option(None, "--field", help="field (lĩnh vực), as the catalogue names it")
CHANNEL = typer.Option(None, "--channel", help="COUNTER, ONLINE, POSTAL, ...")
SOURCE = typer.Option(None, "--source", help="only dossiers this system has (portal, onestop, ...)")
STATUS = typer.Option(None, "--status", help="unified status (RECEIVED, IN_PROGRESS, ...)")
OUTCOME = typer.Option(
    None, "--outcome",
    help="outcome: on_time, early, overdue (ended late), no_due (ended, no legal due), open, open_overdue; "
    "or pending (open), ended, late (overdue or open_overdue)",
)  # fmt: skip
START = typer.Option(None, "--from", help="first day of the period (YYYY-MM-DD, Vietnam time)")
END = typer.Option(None, "--to", help="last day of the period, inclusive")
PERIOD_BY = typer.Option("received", "--period-by", help="the period counts dossiers by: received | ended")
JUDGED_BY = typer.Option(
    None, "--judged-by",
    help="read --outcome and --by outcome as this system reports them (portal, onestop, import, ...) "
    "instead of the legal judgement; only the dossiers that system has",
)  # fmt: skip
INDICATOR = typer.Option(
    None, "--indicator", help="a Decision 766 indicator id (1.4, 2.1, 3.3, 3.6, 4.1, 4.2, 4.3, 5.4)"
)


def register(app: typer.Typer) -> None:
    app.add_typer(stats_app, name="stats")
    app.command("export")(export)


def _store() -> Any:
    from dongbo.stats import open_store
    from sinks.report.store import StoreUnavailable

    try:
        return open_store(get_settings())
    except StoreUnavailable as exc:
        fail(str(exc))


def _filters(store: Any, **given: Any) -> Any:
    """Filters from the options (``dongbo.stats_request``: the API checks them alike); exit 2 if bad."""
    from dongbo import stats_request as sr

    try:
        return sr.filters(store, sr.StatsRequest(
            units=given["unit"] or (), procedures=given["procedure"] or (), fields=given["field"] or (),
            channels=given["channel"] or (), sources=given["source"] or (), statuses=given["status"] or (),
            outcomes=given["outcome"] or (), start=given["start"], end=given["end"],
            period_by=given["period_by"], judged_by=given["judged_by"],
        ))  # fmt: skip
    except sr.UsageError as exc:
        usage(str(exc))


def _indicator(indicator_id: str | None) -> Any:
    from dongbo import stats_request as sr

    try:
        return sr.indicator(indicator_id)
    except sr.UsageError as exc:
        usage(str(exc))


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def render(rows: Sequence[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([{k: _plain(v) for k, v in r.items()} for r in rows], ensure_ascii=False, indent=1)
    if not rows:
        return "Không có hồ sơ nào khớp điều kiện (no dossier matches)." if fmt == "table" else ""
    keys = list(rows[0])
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(keys)
        w.writerows([[_plain(r[k]) for k in keys] for r in rows])
        return buf.getvalue().rstrip("\n")

    def cell(v: Any) -> str:
        v = _plain(v)
        if isinstance(v, float):
            return f"{v:.2%}" if v <= 1 else f"{v:,.2f}"
        return "-" if v is None else f"{v:,}" if isinstance(v, int) else str(v)

    table = [[cell(r[k]) for k in keys] for r in rows]
    widths = [max(len(k), *(len(t[i]) for t in table)) for i, k in enumerate(keys)]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) if c[:1].isdigit() else c.ljust(w) for c, w in zip(t, widths, strict=True))
              for t in table]  # fmt: skip
    return "\n".join(lines)


@stats_app.callback(invoke_without_command=True)
def stats(
    ctx: typer.Context,
    unit: list[str] = UNIT,
    procedure: list[str] = PROCEDURE,
    field: list[str] = FIELD,
    channel: list[str] = CHANNEL,
    source: list[str] = SOURCE,
    status: list[str] = STATUS,
    outcome: list[str] = OUTCOME,
    start: str = START,
    end: str = END,
    period_by: str = PERIOD_BY,
    judged_by: str = JUDGED_BY,
    indicator: str = INDICATOR,
    by: list[str] = typer.Option(
        None,
        "--by",
        help="group by: unit, procedure, field, channel, source, status, outcome (legal, or --judged-by), "
        "day, month, quarter, year; repeat for several",
    ),
    fmt: str = typer.Option("table", "--format", help="table | json | csv"),
) -> None:
    """Figures of the dossiers selected, grouped --by dimensions; with --indicator, that indicator's
    rate and score on the legal judgement and as each source system reports it, and the
    differences between them by cause."""
    if ctx.invoked_subcommand is not None:
        return
    from dongbo import stats_request as sr
    from sinks.report.query import QueryError

    if fmt not in ("table", "json", "csv"):
        usage(f"--format {fmt!r}: choose table, json or csv")
    try:
        by = sr.check_by(by or ())
    except sr.UsageError as exc:
        usage(str(exc))
    ind = _indicator(indicator)
    store = _store()
    try:
        f = _filters(store, unit=unit, procedure=procedure, field=field, channel=channel, source=source,
                     status=status, outcome=outcome, start=start, end=end, period_by=period_by,
                     judged_by=judged_by)  # fmt: skip
        if ind is None:
            rows = store.figures(f, by)
            if not by and rows and rows[0]["dossiers"] == 0:
                rows = []
            typer.echo(render(rows, fmt))
            return
        sources = store.sources_present() if ind.source_numerator else []
        rows = store.indicator(ind, f, by, sources)
        if fmt == "table":
            typer.echo(f"{ind.id} {ind.name_vi} / {ind.name_en}: {ind.note}; target {ind.target:.0%}")
        typer.echo(render(rows, fmt))
        if fmt == "table" and ind.source_numerator:
            for src in sources:
                diff = store.differences(ind, f, src)
                if diff:
                    typer.echo(f"\n{src} vs the legal judgement, dossiers counted differently, by cause:")
                    typer.echo(render(diff, fmt))
    except QueryError as exc:
        usage(str(exc))
    finally:
        store.conn.close()


@stats_app.command("verify")
def verify_cmd() -> None:
    """Recount every figure from dossier.state and compare with the reporting store and Redis.
    Exit code 1 and every difference listed when they differ."""
    from dongbo.stats import verify

    result = verify(get_settings(), say)
    for problem in result.problems[:200]:
        typer.echo(problem)
    if len(result.problems) > 200:
        typer.echo(f"... and {len(result.problems) - 200:,} more")
    if not result.ok:
        fail(f"{len(result.problems):,} difference(s) between the stores and the recount of "
              f"{result.dossiers:,} dossiers: run `dongbo stats rebuild` once the sinks have "
              "caught up")  # fmt: skip
    typer.echo(f"ok: {result.dossiers:,} dossiers; reporting store "
               f"{result.counted.get('report', 0):,} rows and "
               f"{result.counted.get('redis', 0):,} Redis memberships equal the recount")  # fmt: skip


@stats_app.command("rebuild")
def rebuild_cmd(
    store: list[str] = typer.Option(None, "--store", help="report, redis (default: both)"),
) -> None:
    """Empty the reporting store and Redis's figures and write them again from dossier.state (after
    a store was lost). Safe while the sinks run: every write is version-guarded."""
    from dongbo.stats import rebuild

    chosen = tuple(store or ("report", "redis"))
    bad = [s for s in chosen if s not in ("report", "redis")]
    if bad:
        usage(f"--store {bad}: choose report or redis")
    n = rebuild(get_settings(), say, chosen)
    typer.echo(f"rebuilt {', '.join(chosen)} from {n:,} dossier states")


def export(
    output: Path = typer.Option(..., "--output", "-o", help="file to write (.csv or .xlsx)"),
    unit: list[str] = UNIT,
    procedure: list[str] = PROCEDURE,
    field: list[str] = FIELD,
    channel: list[str] = CHANNEL,
    source: list[str] = SOURCE,
    status: list[str] = STATUS,
    outcome: list[str] = OUTCOME,
    start: str = START,
    end: str = END,
    period_by: str = PERIOD_BY,
    judged_by: str = JUDGED_BY,
    indicator: str = INDICATOR,
    fmt: str = typer.Option(None, "--format", help="csv | xlsx (default: from the file's extension)"),
    lang: str = typer.Option("vi", "--lang", help="column headers: vi | en"),
) -> None:
    """Write the dossiers behind a figure, one row each: code, procedure, unit, channel, received,
    legal due, ended, outcome, each system's status, due date and overdue flag, and the reason of any
    discrepancy. The row count equals the figure `dongbo stats` shows for the same filters (with
    --indicator: its denominator, with a column saying which count in the numerator)."""
    from dongbo import export as ex

    fmt = (fmt or output.suffix.lstrip(".") or "csv").lower()
    if fmt not in ex.FORMATS:
        usage(f"--format {fmt!r}: choose csv or xlsx")
    if lang not in ("vi", "en"):
        usage(f"--lang {lang!r}: choose vi or en")
    ind = _indicator(indicator)
    store = _store()
    try:
        f = _filters(store, unit=unit, procedure=procedure, field=field, channel=channel, source=source,
                     status=status, outcome=outcome, start=start, end=end, period_by=period_by,
                     judged_by=judged_by)  # fmt: skip
        n = ex.export_dossiers(store, f, ind, output, fmt, lang, lambda k: say(f"  {k:,} rows written"))
    finally:
        store.conn.close()
    typer.echo(
        f"{n:,} dossiers written to {output}" if n else f"no dossier matches: {output} has the header only"
    )
