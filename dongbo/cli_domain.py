"""``dongbo calendar | catalogue | deadline``: look at the business calendar, install a procedure
catalogue, and compute (and explain) one due time by hand."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

import typer
from pydantic import ValidationError

from contract.settings import DomainSettings
from dongbo.cli_output import fail
from streams.configured import calendar_book, catalogue, catalogue_path, deadline_policy
from streams.domain.calendar import BusinessCalendar, DayKind, day_name
from streams.domain.catalogue import NoVersionAt, ProcedureVersion, UnknownProcedure
from streams.domain.catalogue_io import CatalogueError, load_catalogue, to_yaml
from streams.domain.deadlines import PauseSpan, compute_due
from streams.domain.limits import Limit, LimitUnit
from streams.model import VN_TZ

calendar_app = typer.Typer(help="The business calendar: holidays, swapped days off, make-up working days.")
catalogue_app = typer.Typer(help="The procedure catalogue: time limits per procedure and version.")

ISO_HINT = "expected ISO 8601 like 2026-03-09T09:00 (Vietnam time) or 2026-03-09T09:00+07:00"


class ChannelChoice(StrEnum):
    counter = "counter"
    online = "online"
    postal = "postal"


def register(app: typer.Typer) -> None:
    app.add_typer(calendar_app, name="calendar")
    app.add_typer(catalogue_app, name="catalogue")
    app.command("deadline")(deadline)


def parse_when(text: str, option: str = "--received") -> datetime:
    """An ISO date-time; without an offset it is Vietnam time (+07:00)."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date-time: {ISO_HINT}", param_hint=option) from None
    return dt.replace(tzinfo=VN_TZ) if dt.tzinfo is None else dt


def parse_pause(text: str) -> PauseSpan:
    """``START/END`` (END empty: still paused)."""
    start, sep, end = text.partition("/")
    if not sep:
        raise typer.BadParameter(
            f"{text!r}: expected START/END, e.g. 2026-03-03T09:00/2026-03-06T10:00", param_hint="--pause"
        )
    span = PauseSpan(parse_when(start, "--pause"), parse_when(end, "--pause") if end.strip() else None)
    if span.end is not None and span.end < span.start:
        raise typer.BadParameter(f"{text!r}: the pause ends before it starts", param_hint="--pause")
    return span


def _settings() -> DomainSettings:
    try:
        settings = DomainSettings()
        deadline_policy(settings)  # checks the choices (receipt rules, extension judgement)
        return settings
    except (ValidationError, ValueError) as exc:
        fail(f"a DONGBO_DOMAIN_* setting is not valid:\n{exc}")


def _calendar(settings: DomainSettings, unit_code: str | None) -> BusinessCalendar:
    try:
        return calendar_book(settings).for_unit(unit_code)
    except (OSError, ValueError) as exc:
        fail(f"the calendar data cannot be used: {exc}")


# -- calendar -----------------------------------------------------------------------------------

_KIND_WORDS = {
    DayKind.HOLIDAY: "holiday",
    DayKind.SWAPPED_OFF: "day off (swap)",
    DayKind.MAKEUP: "make-up working day",
}


@calendar_app.command("show")
def calendar_show(
    year: int = typer.Argument(..., help="the year, e.g. 2026"),
    unit_code: str = typer.Option(
        None, "--unit-code", help="a unit's office hours (default: the default hours)"
    ),
) -> None:
    """List a year's holidays, swapped days off and make-up working Saturdays, with their reasons."""
    settings = _settings()
    cal = _calendar(settings, unit_code)
    if not 1995 <= year <= 2199:
        fail(f"year {year} is outside the calendar's range 1995–2199")
    uncertain = {
        d for d, o in {**cal.overrides.days_off, **cal.overrides.working_days}.items() if not o.certain
    }
    typer.echo(
        f"{year}  office hours: {cal.hours.describe()}" + (f"  (unit {unit_code})" if unit_code else "")
    )
    for info in cal.special_days(year):
        note = "  [not verified against the official announcement]" if info.day in uncertain else ""
        typer.echo(f"  {day_name(info.day)}  {_KIND_WORDS[info.kind]:<20} {info.label}{note}")
    days = cal.days(date(year, 1, 1), date(year, 12, 31))
    working = sum(1 for d in days if d.working)
    typer.echo(
        f"{working} working days in {year}; culture day (24/11) off: {'yes' if cal.culture_day else 'no'}"
    )


# -- catalogue ----------------------------------------------------------------------------------


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@catalogue_app.command("load")
def catalogue_load(
    file: Path = typer.Argument(..., help="a catalogue file: .yaml/.yml or .csv (format: docs/catalogue.md)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="only validate; install nothing"),
) -> None:
    """Validate a catalogue file and install it where DONGBO_DOMAIN_CATALOGUE_PATH points (as YAML)."""
    if not file.exists():
        fail(f"{file} does not exist: give the path of a .yaml or .csv catalogue")
    try:
        catalogue = load_catalogue(file)
    except CatalogueError as exc:
        fail(f"{exc}\nnothing was installed; fix the lines above and run the command again", code=2)
        return
    versions = sum(len(p.versions) for p in catalogue)
    for p in catalogue:
        typer.echo(f"  {p.code:<12} {p.name}  —  " + "; ".join(v.describe() for v in p.versions))
    dest = catalogue_path(_settings())
    if dry_run:
        typer.echo(f"valid: {len(catalogue)} procedures, {versions} versions (not installed: --dry-run)")
        return
    _write_atomically(dest, to_yaml(catalogue))
    typer.echo(f"installed {len(catalogue)} procedures, {versions} versions to {dest}")


@catalogue_app.command("show")
def catalogue_show(
    code: str = typer.Argument(..., help="procedure code (mã TTHC), e.g. 1.001193"),
    as_json: bool = typer.Option(False, "--json", help="print as JSON"),
) -> None:
    """Show one procedure: its names and every version with its limit, pauses and steps."""
    settings = _settings()
    try:
        proc = catalogue(settings).get(code)
    except UnknownProcedure as exc:
        fail(f"{exc}; `dongbo catalogue load FILE` installs another catalogue", code=2)
        return
    except CatalogueError as exc:
        fail(f"the installed catalogue is not valid:\n{exc}")
        return
    if as_json:
        doc = {
            "code": proc.code,
            "name": proc.name,
            "name_en": proc.name_en,
            "versions": [_version_doc(v) for v in proc.versions],
        }
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{proc.code}  {proc.name}" + (f"  ({proc.name_en})" if proc.name_en else ""))
    for v in proc.versions:
        typer.echo(f"  {v.describe()}")
        pauses = ", ".join(sorted(v.pause_on)) if v.pause_on is not None else "policy default"
        typer.echo(f"      clock stops on: {pauses}")
        for s in v.steps:
            typer.echo(f"      step: {s.agency} {s.share:.0%}")
        if v.basis:
            typer.echo(f"      basis: {v.basis}")


def _version_doc(v: ProcedureVersion) -> dict[str, object]:
    return {
        "valid_from": v.valid_from.isoformat(),
        "valid_to": v.valid_to.isoformat() if v.valid_to else None,
        "limit": v.limit.value,
        "unit": v.limit.unit.value,
        "cutoff": f"{v.limit.cutoff:%H:%M}" if v.limit.cutoff else None,
        "pause_on": sorted(v.pause_on) if v.pause_on is not None else None,
        "complex": {
            "limit": v.complex_limit.value,
            "unit": v.complex_limit.unit.value,
            "when": v.complex_when,
        }
        if v.complex_limit
        else None,
        "steps": [{"agency": s.agency, "share": s.share} for s in v.steps],
        "basis": v.basis,
    }


# -- deadline -----------------------------------------------------------------------------------


def deadline(
    received: str = typer.Option(..., "--received", help=f"receipt time; {ISO_HINT}"),
    limit: float = typer.Option(None, "--limit", min=0, help="the time limit's value (with --unit)"),
    unit: LimitUnit = typer.Option(None, "--unit", case_sensitive=False, help="the time limit's unit"),
    procedure: str = typer.Option(None, "--procedure", help="take the limit from the catalogue (mã TTHC)"),
    complex_case: bool = typer.Option(False, "--complex", help="the procedure's complex-case limit"),
    pause: list[str] = typer.Option(None, "--pause", help="START/END clock stop, repeatable"),
    unit_code: str = typer.Option(None, "--unit-code", help="the receiving unit (its office hours)"),
    channel: ChannelChoice = typer.Option(ChannelChoice.counter, "--channel", case_sensitive=False,
                                          help="counter or online (online counts from the next working day)"),
    now: str = typer.Option(None, "--now", help="with an open pause: compute as if it ended now (ISO)"),
    as_json: bool = typer.Option(False, "--json", help='print {"due_at": "...+07:00", ...} as JSON'),
) -> None:  # fmt: skip
    """Compute a dossier's legal due time and explain it: receipt, skipped days, pauses.

    Example: dongbo deadline --received 2026-02-12T09:00 --limit 3 --unit working_days
    """
    received_at = parse_when(received, "--received")
    now_at = parse_when(now, "--now") if now else None
    pauses = [parse_pause(p) for p in pause or []]
    settings = _settings()
    if procedure:
        try:
            the_limit: Limit | ProcedureVersion = catalogue(settings).lookup(procedure, received_at)
        except (UnknownProcedure, NoVersionAt) as exc:
            fail(str(exc), code=2)
            return
        except CatalogueError as exc:
            fail(f"the installed catalogue is not valid:\n{exc}")
            return
    elif limit is None or unit is None:
        raise typer.BadParameter(
            "give --limit and --unit (e.g. --limit 3 --unit working_days), or --procedure CODE"
        )
    else:
        try:
            the_limit = Limit(limit, unit)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--limit") from None
    cal = _calendar(settings, unit_code)
    comp = compute_due(
        received_at, the_limit, cal, pauses, channel=channel.value, policy=deadline_policy(settings),
        now=now_at,
        complex_case=complex_case,
    )  # fmt: skip
    if as_json:
        doc = comp.to_json() | {"procedure": procedure, "unit_code": unit_code, "channel": channel.value}
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    typer.echo(comp.explain())
    if comp.due_at is None:
        typer.echo("due: unknown while the clock is stopped (give --now to compute it as of now)")
