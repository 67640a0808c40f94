"""A dossier's state as one row of the reporting store: the classifications every figure counts.

Pure: no I/O. The reporting sink writes these rows; ``dongbo stats verify`` computes them again from
``dossier.state`` and compares. Every figure is a count of rows under a filter, and its member list
is the same filter without the count, so an export always has as many rows as its figure.

Timeliness (*tình trạng hạn*), one vocabulary for the legal judgement and for each source's:

- ``ON_TIME`` / ``ENDED_EARLY`` / ``OVERDUE``: ended, on time, early or late; ``ENDED_NO_DUE``:
  ended with no legal due time (a procedure the catalogue does not have);
- ``OPEN``: not ended, not past its due time; ``OPEN_OVERDUE``: not ended and past it.

The legal one comes from the merge (outcome, and the overdue alert of an open dossier). A source's
is what that source's own figures would show: its own overdue flag where it keeps one, else its own
due date against the dossier's end; still open, overdue when it says so or its own due date has
passed at the state's time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from contract.sources import LIVE_SYSTEMS
from streams.model import (
    DOCUMENTS_DIGITISED,
    DOCUMENTS_REUSED,
    DOCUMENTS_TOTAL,
    ENDING,
    PAID_ONLINE,
    RESULT_FILES,
    VN_TZ,
    Status,
)  # fmt: skip

TIMELINESS = ("ON_TIME", "ENDED_EARLY", "OVERDUE", "ENDED_NO_DUE", "OPEN", "OPEN_OVERDUE")
# Indicator 2.1 counts these as "on time": ended on time or early, or open and not yet due. A
# dossier ended with no due time to judge it by (its procedure is not in the catalogue) cannot be
# counted late.
COUNTS_ON_TIME = frozenset({"ON_TIME", "ENDED_EARLY", "ENDED_NO_DUE", "OPEN"})
_ENDED_BY_SOURCE = ENDING | {Status.RETURNED}

# Two tables (sinks.report.store creates them): ``dossiers``, narrow, what every figure counts and
# filters on (a city-year's scan is what a figure costs: a narrow row is a faster one), and
# ``dossier_details``, what a list or a reconciliation shows (every system's view, conflicts, times).
FIGURE_COLUMNS = (
    "dossier_id", "version", "status", "outcome", "timeliness", "unit", "procedure", "field", "channel",
    "received_on", "ended_on", "received_late", "near_deadline", "judged",
    *(f"judged_{s}" for s in LIVE_SYSTEMS), "conflicts", "paid_online", "documents_total",
    "documents_digitised", "documents_reused", "result_files",
)  # fmt: skip
DETAIL_COLUMNS = (
    "dossier_id", "version", "received_at", "ended_at", "due_at", "updated_at", "sources", "conflict_details",
    "discrepancy_reasons",
)  # fmt: skip
COLUMNS = FIGURE_COLUMNS + DETAIL_COLUMNS[2:]  # a whole row, as report_row gives it


def local_day(at: datetime | None) -> date | None:
    """The calendar day in Vietnam (the day a period is counted on)."""
    return None if at is None else at.astimezone(VN_TZ).date()


def legal_timeliness(state: Mapping[str, Any]) -> str:
    """The merge judges an open dossier past its due time OVERDUE already; here it is OPEN_OVERDUE."""
    outcome = state.get("outcome") or "PENDING"
    if state.get("ended_at") is not None:
        return "ENDED_NO_DUE" if outcome == "PENDING" else str(outcome)
    return "OPEN_OVERDUE" if outcome == "OVERDUE" else "OPEN"


def source_timeliness(
    view: Mapping[str, Any], as_of: datetime | None, ended_at: datetime | None, only_source: bool = False
) -> str:
    """What one source system's own figures would say of the dossier (module docstring).

    ``ended_at`` is the dossier's end (the first ending status any system recorded): a source's own
    latest event can come after its end (a late task), so it is not the end. A source's view keeps
    only its latest status, so a source whose late task followed its end looks open again; when it
    is the dossier's only source, the dossier's end is necessarily its own, and counts. (With
    several sources, the view would need the source's own end time: not in the state yet.)"""
    status = Status(view["status"])
    due, flag = view.get("due_at"), view.get("overdue")
    if status in _ENDED_BY_SOURCE or (only_source and ended_at is not None):
        end = ended_at or view.get("last_occurred_at")
        if flag is not None:
            return "OVERDUE" if flag else "ON_TIME"
        if due is not None and end is not None:
            return "OVERDUE" if end > due else "ON_TIME"
        return "ENDED_NO_DUE"  # no due date and no flag: the source cannot count it late
    # Open: a flag is a snapshot of the source's last record; past its own due date since, the
    # source's figures count the dossier overdue now whatever the flag said then.
    if flag or (due is not None and as_of is not None and due < as_of):
        return "OPEN_OVERDUE"
    return "OPEN"


def report_row(state: Mapping[str, Any], sectors: Mapping[str, str]) -> dict[str, Any]:
    """The row of one ``DossierState`` record (as Avro decodes it: datetimes aware, in UTC).

    ``sectors`` maps a procedure code to its field (*lĩnh vực*, the catalogue's sector)."""
    procedure = state.get("procedure_code")
    as_of = state.get("updated_at") or state.get("last_event_at")
    reasons: dict[str, list[str]] = {}
    for d in state.get("discrepancies") or ():
        reasons.setdefault(d["source"], [])
        if d["reason"] not in reasons[d["source"]]:
            reasons[d["source"]].append(d["reason"])
    sources = {
        name: {
            "status": view["status"],
            "source_status": view.get("source_status"),
            "due_at": _iso(view.get("due_at")),
            "overdue": view.get("overdue"),
            "timeliness": source_timeliness(view, as_of, state.get("ended_at"), len(state["sources"]) == 1),
            "reasons": reasons.get(name, []),
        }
        for name, view in sorted((state.get("sources") or {}).items())
    }
    alerts = state.get("alerts") or ()
    outcome = state.get("outcome") or "PENDING"
    attributes = state.get("attributes") or {}
    return {
        "dossier_id": state["dossier_id"],
        "version": int(state["version"]),
        "status": state.get("status") or "NONE",
        "outcome": outcome,
        "timeliness": legal_timeliness(state),
        "unit": state.get("unit_code") or "?",
        "procedure": procedure or "?",
        "field": sectors.get(procedure or "", "?"),
        "channel": state.get("channel") or "UNKNOWN",
        "received_on": local_day(state.get("received_at")),
        "ended_on": local_day(state.get("ended_at")),
        "received_late": bool(state.get("received_late")),
        "near_deadline": state.get("ended_at") is None
        and outcome != "OVERDUE"
        and "near_deadline" in alerts
        and "overdue" not in alerts,
        # Each system's timeliness as it reports it, the only per-system value a figure reads.
        "judged": {name: view["timeliness"] for name, view in sources.items()},
        # The live systems' again as plain columns: an indicator judged by five systems over a
        # city-year reads five columns, not five keys of a jsonb per row (2.7 s → under 1 s).
        **{
            f"judged_{name}": sources[name]["timeliness"] if name in sources else None
            for name in LIVE_SYSTEMS
        },
        "conflicts": sorted({c["kind"] for c in state.get("conflicts") or ()}),
        # The Decision 766 attributes; None where no system reports them.
        "paid_online": _flag(attributes.get(PAID_ONLINE)),
        "documents_total": _count(attributes.get(DOCUMENTS_TOTAL)),
        "documents_digitised": _count(attributes.get(DOCUMENTS_DIGITISED)),
        "documents_reused": _count(attributes.get(DOCUMENTS_REUSED)),
        "result_files": _count(attributes.get(RESULT_FILES)),
        "received_at": state.get("received_at"),
        "ended_at": state.get("ended_at"),
        "due_at": state.get("due_at"),
        "updated_at": state.get("updated_at"),
        "sources": sources,
        # Which systems, since when: what reconciliation reports.
        "conflict_details": [
            {"kind": c["kind"], "systems": sorted(c.get("systems") or ()), "since": _iso(c.get("since"))}
            for c in state.get("conflicts") or ()
        ],
        "discrepancy_reasons": sorted({r for rs in reasons.values() for r in rs}),
    }


def _flag(text: str | None) -> bool | None:
    return None if text is None else text == "true"


def _count(text: str | None) -> int | None:
    try:
        return None if text is None else int(text)
    except ValueError:
        return None  # a malformed count is "not reported", not a crash of the sink


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(VN_TZ).isoformat()


def sectors_of(procedures: Iterable[Any]) -> dict[str, str]:
    """Procedure code → field (*lĩnh vực*): the sector of its latest catalogue version that names one."""
    out: dict[str, str] = {}
    for proc in procedures:
        for version in proc.versions:
            if version.sector:
                out[proc.code] = version.sector
    return out
