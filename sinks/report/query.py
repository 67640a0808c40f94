"""Filters and groupings of the reporting store as SQL: one builder for a figure and its members.

Pure: no I/O; the statement and its parameters are handed to ``sinks.report.store``. A figure is
``count(*)`` of the rows a ``Filters`` selects, grouped by some dimensions; its members are the
same ``WHERE`` without the count. Nothing a user types is put into SQL text: dimensions come from
a fixed table, values travel as parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from contract.sources import LIVE_SYSTEMS
from sinks.report.rows import COLUMNS, FIGURE_COLUMNS, TIMELINESS


class QueryError(ValueError):
    """A request the store cannot answer as asked (the message says what to change)."""


PERIODS = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "quarter": 'YYYY-"Q"Q', "year": "YYYY"}
PERIOD_BY = {"received": "received_on", "ended": "ended_on"}
# Dimensions a figure can be grouped by, with their SQL over the row ``d`` (and ``s``, a source).
PLAIN = ("unit", "procedure", "field", "channel", "status", "timeliness")
DIMENSIONS = (*PLAIN, "outcome", "source", *PERIODS)


@dataclass(frozen=True)
class Filters:
    """Which dossiers a figure counts. Empty tuples mean "any"."""

    units: tuple[str, ...] = ()
    procedures: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    timeliness: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # present in at least one of these systems
    conflicts: tuple[str, ...] = ()  # with an open conflict of one of these kinds
    start: date | None = None  # period, inclusive, on ``period_by``'s day in Vietnam
    end: date | None = None
    period_by: str = "received"  # received | ended
    # Whose timeliness the figure reads: None = the legal judgement; a source name = as that system
    # reports it (and only the dossiers it has).
    judged_by: str | None = None
    extra: tuple[tuple[str, dict[str, Any]], ...] = field(default=())  # indicator predicates

    def __post_init__(self) -> None:
        if self.period_by not in PERIOD_BY:
            raise QueryError(f"period by {self.period_by!r}: choose one of {', '.join(PERIOD_BY)}")
        if self.start and self.end and self.start > self.end:
            raise QueryError(f"the period is inverted: from {self.start} is after to {self.end}")
        bad = sorted(set(self.timeliness) - set(TIMELINESS))
        if bad:
            raise QueryError(f"timeliness {bad}: choose among {', '.join(TIMELINESS)}")

    def with_predicate(self, sql: str, **params: Any) -> Filters:
        return replace(self, extra=(*self.extra, (sql, params)))


def judged(source: str, param: str) -> str:
    """SQL of ``source``'s own timeliness of the row (NULL when it does not have the dossier): a
    column for a live system (``source`` checked against the fixed list), the jsonb otherwise. The
    source itself travels as the parameter ``param``."""
    return f"d.judged_{source}" if source in LIVE_SYSTEMS else f"(d.judged ->> %({param})s)"


def where(f: Filters) -> tuple[str, dict[str, Any]]:
    """The ``WHERE`` clause (without the keyword; ``TRUE`` for no filter) and its parameters."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    for column, values in (
        ("unit", f.units), ("procedure", f.procedures), ("field", f.fields), ("channel", f.channels),
        ("status", f.statuses),
    ):  # fmt: skip
        if values:
            parts.append(f"d.{column} = ANY(%({column}s)s)")
            params[f"{column}s"] = list(values)
    if f.judged_by:
        parts.append(f"{judged(f.judged_by, 'judged_by')} IS NOT NULL")
        params["judged_by"] = f.judged_by
    if f.timeliness:
        parts.append(f"{_timeliness(f)} = ANY(%(timeliness)s)")
        params["timeliness"] = list(f.timeliness)
    if f.sources:
        parts.append("d.judged ?| %(sources)s::text[]")
        params["sources"] = list(f.sources)
    if f.conflicts:
        parts.append("d.conflicts && %(conflicts)s::text[]")
        params["conflicts"] = list(f.conflicts)
    day = PERIOD_BY[f.period_by]
    if f.start:
        parts.append(f"d.{day} >= %(start)s")
        params["start"] = f.start
    if f.end:
        parts.append(f"d.{day} <= %(end)s")
        params["end"] = f.end
    for i, (sql, extra) in enumerate(f.extra):
        renamed = sql
        for k in extra:
            renamed = renamed.replace(f"%({k})s", f"%(x{i}_{k})s")
        parts.append(f"({renamed})")
        params.update({f"x{i}_{k}": v for k, v in extra.items()})
    return (" AND ".join(parts) or "TRUE"), params


def _timeliness(f: Filters) -> str:
    return judged(f.judged_by, "judged_by") if f.judged_by else "d.timeliness"


def dimension_sql(dim: str, f: Filters) -> str:
    period_by = f.period_by
    if dim in ("timeliness", "outcome"):  # "outcome" for users: open/overdue included (rows.py)
        return _timeliness(f)
    if dim in PLAIN:
        return f"d.{dim}"
    if dim == "source":
        return "s.source"
    if dim in PERIODS:
        return f"coalesce(to_char(d.{PERIOD_BY[period_by]}, '{PERIODS[dim]}'), '-')"
    raise QueryError(f"cannot group by {dim!r}: choose among {', '.join(DIMENSIONS)}")


def figures(
    f: Filters,
    by: Sequence[str],
    counts: Sequence[tuple[str, str]] = (),
    count_params: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Counts of the selected dossiers grouped by ``by`` (none: one total), and, per group, the
    extra ``counts`` (alias, SQL predicate: how many of the group satisfy it) in the same scan.

    Grouped by source, a dossier counts once in each system it is in. Grouped by a period, rows are
    counted per day first and the days folded into months, quarters or years (a to_char per day,
    not per row: 20 % to 50 % of a year's scan)."""
    if len(set(by)) != len(by):
        raise QueryError(f"a dimension is repeated in --by {list(by)}")
    cond, params = where(f)
    params.update(count_params or {})
    source = " CROSS JOIN LATERAL jsonb_object_keys(d.judged) AS s(source)" if "source" in by else ""
    aggs = ["count(*) AS dossiers", *(f"count(*) FILTER (WHERE {sql}) AS {alias}" for alias, sql in counts)]
    periods = [d for d in by if d in PERIODS]
    if not periods:
        cols = [f"{dimension_sql(d, f)} AS {d}" for d in by]
        sql = f"SELECT {', '.join([*cols, *aggs])} FROM dossiers d{source} WHERE {cond}"
        if by:
            order = ", ".join(str(i + 1) for i in range(len(by)))
            sql += f" GROUP BY {order} ORDER BY {order}"
        return sql, params
    plain = [d for d in by if d not in PERIODS]
    inner_cols = [*(f"{dimension_sql(d, f)} AS {d}" for d in plain), f"d.{PERIOD_BY[f.period_by]} AS day_"]
    groups = ", ".join(str(i + 1) for i in range(len(inner_cols)))
    inner = f"SELECT {', '.join([*inner_cols, *aggs])} FROM dossiers d{source} WHERE {cond} GROUP BY {groups}"
    outer_cols = [d if d in plain else f"coalesce(to_char(g.day_, '{PERIODS[d]}'), '-') AS {d}" for d in by]
    sums = [f"sum(g.{alias})::bigint AS {alias}" for alias in ("dossiers", *(a for a, _ in counts))]
    order = ", ".join(str(i + 1) for i in range(len(by)))
    return (
        f"SELECT {', '.join([*outer_cols, *sums])} FROM ({inner}) g GROUP BY {order} ORDER BY {order}",
        params,
    )


def members(f: Filters, columns: Sequence[str] = COLUMNS) -> tuple[str, dict[str, Any]]:
    """The rows behind a figure, one per dossier, in dossier order (the details joined when a
    column asked for lives there)."""
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise QueryError(f"unknown columns {unknown}")
    cond, params = where(f)
    cols = ", ".join(("d." if c in FIGURE_COLUMNS else "x.") + c for c in columns)
    details = any(c not in FIGURE_COLUMNS for c in columns)
    join = " JOIN dossier_details x ON x.dossier_id = d.dossier_id" if details else ""
    return f"SELECT {cols} FROM dossiers d{join} WHERE {cond} ORDER BY d.dossier_id", params
