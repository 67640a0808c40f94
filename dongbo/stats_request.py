"""A statistics request (from the CLI or the HTTP API) checked and turned into ``Filters``.

One place for what the CLI and the API accept, so both give the same answers and the same
errors: an unknown unit, procedure, field or system (no dossier has it), an unknown outcome word,
a malformed or inverted period. Each is a ``UsageError`` whose message says what to change; the
CLI exits with code 2 on it, the API answers 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sinks.report.indicators import Indicator, get_indicator
from sinks.report.query import DIMENSIONS, Filters, QueryError
from sinks.report.store import ReportStore

# Outcome words officials use → the rows' timeliness values (docs/statistics.md).
OUTCOMES: dict[str, tuple[str, ...]] = {
    "on_time": ("ON_TIME",), "early": ("ENDED_EARLY",), "overdue": ("OVERDUE",), "open": ("OPEN",),
    "open_overdue": ("OPEN_OVERDUE",), "pending": ("OPEN", "OPEN_OVERDUE"), "no_due": ("ENDED_NO_DUE",),
    "ended": ("ON_TIME", "ENDED_EARLY", "OVERDUE", "ENDED_NO_DUE"), "late": ("OVERDUE", "OPEN_OVERDUE"),
}  # fmt: skip


class UsageError(ValueError):
    """A request that cannot be answered as asked; the message says what to change."""


@dataclass(frozen=True)
class StatsRequest:
    units: Sequence[str] = ()
    procedures: Sequence[str] = ()
    fields: Sequence[str] = ()
    channels: Sequence[str] = ()
    sources: Sequence[str] = ()
    statuses: Sequence[str] = ()
    outcomes: Sequence[str] = ()
    start: str | date | None = None
    end: str | date | None = None
    period_by: str = "received"
    judged_by: str | None = None
    by: Sequence[str] = field(default=())


def _day(value: str | date | None, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{name} {value!r}: give a day as YYYY-MM-DD") from None


def check_by(by: Sequence[str]) -> list[str]:
    out = [b.lower() for b in by]
    for b in out:
        if b not in DIMENSIONS:
            raise UsageError(f"--by {b!r}: choose among {', '.join(DIMENSIONS)}")
    if len(set(out)) != len(out):
        raise UsageError(f"a dimension is repeated in --by {out}")
    return out


def indicator(indicator_id: str | None) -> Indicator | None:
    if not indicator_id:
        return None
    try:
        return get_indicator(indicator_id)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None


def known_systems(store: ReportStore, wanted: Sequence[str]) -> None:
    if wanted:
        known = set(store.sources_present())
        unknown = [v for v in wanted if v not in known]
        if unknown:
            raise UsageError(
                f"no dossier is in system {unknown}; systems present: {', '.join(sorted(known)) or '(none)'}"
            )


def filters(store: ReportStore, req: StatsRequest) -> Filters:
    """Filters from a request, each value checked against what the store holds."""
    for column, values in (("unit", req.units), ("procedure", req.procedures), ("field", req.fields)):
        if values:
            known = set(store.distinct(column))
            unknown = [v for v in values if v not in known]
            if unknown:
                sample = ", ".join(sorted(known)[:8]) + (" ..." if len(known) > 8 else "")
                raise UsageError(
                    f"no dossier has {column} {', '.join(map(repr, unknown))}; "
                    f"known: {sample or '(none yet)'} (`dongbo stats --by {column}` lists them all)"
                )
    known_systems(store, [*req.sources, *([req.judged_by] if req.judged_by else [])])
    timeliness: tuple[str, ...] = ()
    for word in req.outcomes:
        if word.lower() not in OUTCOMES:
            raise UsageError(f"--outcome {word!r}: choose among {', '.join(OUTCOMES)}")
        timeliness += OUTCOMES[word.lower()]
    kwargs: dict[str, Any] = {
        "units": tuple(req.units), "procedures": tuple(req.procedures), "fields": tuple(req.fields),
        "channels": tuple(c.upper() for c in req.channels),
        "statuses": tuple(s.upper() for s in req.statuses),
        "timeliness": tuple(dict.fromkeys(timeliness)), "sources": tuple(req.sources),
        "start": _day(req.start, "--from"), "end": _day(req.end, "--to"), "period_by": req.period_by,
        "judged_by": req.judged_by or None,
    }  # fmt: skip
    try:
        return Filters(**kwargs)
    except QueryError as exc:
        raise UsageError(str(exc)) from None
