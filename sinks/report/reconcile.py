"""Reconciliation of two systems: every dossier on which they disagree, on what, since when, and
the cause dongbo found. Pure: the SQL that selects the candidates, and the comparison of a row.

What is compared (each system's view in the reporting row): presence (one has the dossier, the
other not), status, due date, overdue flag, and the outcome as each reports it; a value only one of
them keeps (the portal has no overdue flag) is not a disagreement. "Since" is the
start of the open conflict between the two when the merge opened one (it waits out the sync
tolerances first); a difference with no conflict is younger than its tolerance, or of a kind the
merge does not raise (a due date or an outcome), and shows no "since".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sinks.report.query import Filters, where

FIELDS = ("presence", "status", "due_at", "overdue", "outcome")


@dataclass(frozen=True)
class Difference:
    field: str
    a: Any
    b: Any


def candidates(f: Filters, a: str, b: str) -> tuple[str, dict[str, Any]]:
    """Rows where ``a`` and ``b`` may disagree: in one only, or any compared value differs."""
    scoped = f.with_predicate(
        "(d.judged ? %(a)s OR d.judged ? %(b)s) AND ("
        "NOT (d.judged ? %(a)s AND d.judged ? %(b)s)"
        " OR (x.sources -> %(a)s ->> 'status') IS DISTINCT FROM (x.sources -> %(b)s ->> 'status')"
        " OR (x.sources -> %(a)s ->> 'due_at') <> (x.sources -> %(b)s ->> 'due_at')"
        " OR (x.sources -> %(a)s ->> 'overdue') <> (x.sources -> %(b)s ->> 'overdue')"
        " OR (d.judged ->> %(a)s) IS DISTINCT FROM (d.judged ->> %(b)s))",
        a=a, b=b,
    )  # fmt: skip
    cond, params = where(scoped)
    cols = "d.dossier_id, d.unit, d.procedure, x.received_at, x.sources, x.conflict_details"
    join = "JOIN dossier_details x ON x.dossier_id = d.dossier_id"
    return f"SELECT {cols} FROM dossiers d {join} WHERE {cond} ORDER BY d.dossier_id", params


def differences(row: Mapping[str, Any], a: str, b: str) -> list[Difference]:
    views = row.get("sources") or {}
    va, vb = views.get(a), views.get(b)
    if va is None or vb is None:
        return [Difference("presence", va is not None, vb is not None)]
    keys = {"status": "status", "due_at": "due_at", "overdue": "overdue", "outcome": "timeliness"}
    # A value one system does not keep (the portal has no overdue flag) is no disagreement.
    return [
        Difference(name, va.get(k), vb.get(k))
        for name, k in keys.items()
        if va.get(k) != vb.get(k) and va.get(k) is not None and vb.get(k) is not None
    ]


def cause(row: Mapping[str, Any], a: str, b: str) -> str:
    """The causes the merge found for either system's values (discrepancy reasons), and the kinds
    of open conflicts between the two; ``no_cause_found`` when there is none."""
    views = row.get("sources") or {}
    found: list[str] = []
    for name in (a, b):
        for reason in (views.get(name) or {}).get("reasons") or ():
            if reason not in found:
                found.append(reason)
    for c in row.get("conflict_details") or ():
        between = {a, b} <= set(c.get("systems") or ()) or c["kind"] == "missing_in_system"
        if between and c["kind"] not in found:
            found.append(c["kind"])
    return " + ".join(found) or "no_cause_found"


def since(row: Mapping[str, Any], a: str, b: str) -> str | None:
    """When the open conflict between ``a`` and ``b`` began (ISO, +07:00), if the merge opened one."""
    times = [
        c["since"] for c in row.get("conflict_details") or ()
        if {a, b} <= set(c.get("systems") or ()) or (c["kind"] == "missing_in_system" and c.get("systems"))
    ]  # fmt: skip
    return min(times) if times else None


def report_lines(rows: Iterable[Mapping[str, Any]], a: str, b: str) -> list[dict[str, Any]]:
    """One line per dossier on which ``a`` and ``b`` disagree."""
    out = []
    for row in rows:
        diffs = differences(row, a, b)
        if not diffs:
            continue
        out.append({
            "dossier_id": row["dossier_id"], "unit": row["unit"], "procedure": row["procedure"],
            "fields": ", ".join(d.field for d in diffs),
            a: "; ".join(f"{d.field}={_show(d.a)}" for d in diffs),
            b: "; ".join(f"{d.field}={_show(d.b)}" for d in diffs),
            "since": since(row, a, b), "cause": cause(row, a, b),
        })  # fmt: skip
    return out


def summary(lines: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Dossiers by cause, then by the field that differs (a dossier counts once per field)."""
    by_cause = Counter(line["cause"] for line in lines)
    return [{"cause": c, "dossiers": n} for c, n in sorted(by_cause.items(), key=lambda kv: (-kv[1], kv[0]))]


def by_field(lines: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(line["fields"].split(", "))
    return {f: counts[f] for f in FIELDS if counts[f]}


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
