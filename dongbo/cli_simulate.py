"""``dongbo simulate``: a deterministic Da Nang–scale city feeding every source topic."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from producers.simulator.config import FAULT_KINDS, FAULT_PRESETS

_FAULT_HELP = {
    "sync_lag": "a system's records arrive minutes to days late",
    "lost_sync": "a status change never reaches a system",
    "duplicate": "a record is sent twice",
    "reorder": "two records of a system arrive in the wrong order",
    "clock_skew": "a system's timestamps are shifted by N minutes",
    "calendar_missing_holiday": "per system and holiday: its calendar lacks the holiday",
    "calendar_missing_makeup_day": "per system and make-up Saturday: its calendar lacks it",
    "missed_pause": "a supplement pause is not recorded in one system (due date too early)",
    "appointment_changed": "an appointment date is changed in one system only",
    "unit_remap": "a system still reports the unit's pre-merger code",
}


def register(app: typer.Typer) -> None:
    # Paragraphs re-flowed: the help renderer keeps the docstring's line breaks otherwise.
    paragraphs = (" ".join(p.split()) for p in (simulate.__doc__ or "").split("\n\n"))
    app.command("simulate", help="\n\n".join(paragraphs))(simulate)


def _rate_option(kind: str) -> float | None:
    return typer.Option(
        None, f"--rate-{kind.replace('_', '-')}", min=0.0, max=1.0, help=f"rate: {_FAULT_HELP[kind]}"
    )


def simulate(
    seed: int = typer.Option(7, help="random seed: the same seed gives byte-identical records and truth"),
    dossiers: int = typer.Option(3000, min=0, help="dossiers submitted over the simulated days"),
    days: int = typer.Option(1, min=1, help="days over which dossiers arrive"),
    start: str = typer.Option("2026-03-02", help="first simulated day (YYYY-MM-DD, Asia/Ho_Chi_Minh)"),
    tail_days: int = typer.Option(0, min=0, help="days the city keeps working after the last arrival"),
    truth: Path | None = typer.Option(None, "--truth", help="write the ground truth here (JSON Lines)"),
    faults: str = typer.Option(
        "default", help=f"fault rates preset: {' | '.join(FAULT_PRESETS)} (individual rates override it)"
    ),
    rate_sync_lag: float | None = _rate_option("sync_lag"),
    rate_lost_sync: float | None = _rate_option("lost_sync"),
    rate_duplicate: float | None = _rate_option("duplicate"),
    rate_reorder: float | None = _rate_option("reorder"),
    rate_clock_skew: float | None = _rate_option("clock_skew"),
    rate_calendar_missing_holiday: float | None = _rate_option("calendar_missing_holiday"),
    rate_calendar_missing_makeup_day: float | None = _rate_option("calendar_missing_makeup_day"),
    rate_missed_pause: float | None = _rate_option("missed_pause"),
    rate_appointment_changed: float | None = _rate_option("appointment_changed"),
    rate_unit_remap: float | None = _rate_option("unit_remap"),
    set_: list[str] = typer.Option(
        [],
        "--set",
        help="any setting as key=value with a dotted path, e.g. lifecycle.supplement=0.2, "
        "workload.online_share=0.6, lags.portal_max_s=1800 (see --list-settings)",
    ),
    list_settings: bool = typer.Option(False, "--list-settings", help="print every setting and exit"),
    speed: float = typer.Option(
        0.0, min=0.0, help="0: as fast as possible; N: N simulated seconds per wall second (demo)"
    ),
    out: Path | None = typer.Option(None, "--out", help="write the raw records to files here, not Kafka"),
    dry_run: bool = typer.Option(False, "--dry-run", help="simulate and count, send nothing"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress lines"),
) -> None:
    """Simulate the city's dossiers in every system, faults included, onto src.<system>.dossier.

    Every dossier lives in the city one-stop system and the national portal; civil-status, land
    and business procedures also in that ministry's system. Each system reports in its own
    vocabulary, with its own appointment date and overdue flag, and with the faults that make
    systems disagree (each recorded in the --truth file, with the dossier it touched).
    """
    from dataclasses import replace

    from contract.settings import InsecureSettings, get_settings
    from producers.simulator import SimulationConfig, run_simulation
    from producers.simulator.config import fault_preset, setting_names, with_settings
    from producers.simulator.workload import SimulationError

    if list_settings:
        typer.echo("\n".join(setting_names()))
        raise typer.Exit(0)
    if out is not None and dry_run:
        raise typer.BadParameter("--out and --dry-run exclude each other")
    try:
        rates = fault_preset(faults)
        given = {
            "sync_lag": rate_sync_lag,
            "lost_sync": rate_lost_sync,
            "duplicate": rate_duplicate,
            "reorder": rate_reorder,
            "clock_skew": rate_clock_skew,
            "calendar_missing_holiday": rate_calendar_missing_holiday,
            "calendar_missing_makeup_day": rate_calendar_missing_makeup_day,
            "missed_pause": rate_missed_pause,
            "appointment_changed": rate_appointment_changed,
            "unit_remap": rate_unit_remap,
        }
        assert set(given) == set(FAULT_KINDS)
        rates = replace(rates, **{k: v for k, v in given.items() if v is not None})
        config = SimulationConfig(
            seed=seed,
            dossiers=dossiers,
            days=days,
            start=date.fromisoformat(start),
            tail_days=tail_days,
            speed=speed,
            faults=rates,
        )
        pairs = {}
        for item in set_:
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--set {item!r}: expected key=value")
            pairs[key.strip()] = value.strip()
        config = with_settings(config, pairs)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    def say(line: str) -> None:
        if not quiet:
            typer.echo(f"simulate: {line}", err=True)

    try:
        summary = run_simulation(
            get_settings(), config, truth_path=truth, progress=say, out=out, dry_run=dry_run
        )
    except (SimulationError, InsecureSettings) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc
    typer.echo(summary.report())
