"""Reconciliation of two systems, row by row: what differs, since when, and why."""

from __future__ import annotations

from typing import Any

from sinks.report import reconcile as rc
from sinks.report.query import Filters


def view(status: str = "IN_PROGRESS", due: str | None = "2026-03-05T17:00:00+07:00", overdue: Any = None,
         timeliness: str = "OPEN", reasons: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    return {
        "status": status,
        "due_at": due,
        "overdue": overdue,
        "timeliness": timeliness,
        "reasons": list(reasons),
    }


def row(**views: dict[str, Any]) -> dict[str, Any]:
    return {
        "dossier_id": "D-1",
        "unit": "U1",
        "procedure": "1.001193",
        "sources": views,
        "conflict_details": [],
    }


def test_agreeing_systems_have_no_difference() -> None:
    assert rc.differences(row(portal=view(), onestop=view()), "portal", "onestop") == []
    assert rc.report_lines([row(portal=view(), onestop=view())], "portal", "onestop") == []


def test_presence_is_the_only_difference_when_one_system_lacks_the_dossier() -> None:
    diffs = rc.differences(row(portal=view()), "portal", "onestop")
    assert diffs == [rc.Difference("presence", True, False)]
    assert rc.differences(row(portal=view()), "onestop", "portal") == [rc.Difference("presence", False, True)]


def test_each_differing_value_is_named_with_both_values() -> None:
    a = view(status="RESULT_READY", timeliness="ON_TIME")
    b = view(
        due="2026-03-04T17:00:00+07:00", overdue=True, timeliness="OVERDUE", reasons=("calendar_holiday",)
    )
    diffs = {d.field: (d.a, d.b) for d in rc.differences(row(portal=a, onestop=b), "portal", "onestop")}
    assert diffs == {
        "status": ("RESULT_READY", "IN_PROGRESS"),
        "due_at": ("2026-03-05T17:00:00+07:00", "2026-03-04T17:00:00+07:00"),
        "outcome": ("ON_TIME", "OVERDUE"),
    }
    [line] = rc.report_lines([row(portal=a, onestop=b)], "portal", "onestop")
    assert line["fields"] == "status, due_at, outcome"  # overdue: the portal keeps no flag here
    assert line["cause"] == "calendar_holiday" and line["since"] is None
    assert "status=RESULT_READY" in line["portal"] and "outcome=OVERDUE" in line["onestop"]
    flags = rc.differences(row(portal=view(overdue=False), onestop=view(overdue=True)), "portal", "onestop")
    assert flags == [rc.Difference("overdue", False, True)]


def test_since_and_cause_come_from_the_open_conflict_between_the_two() -> None:
    r = row(portal=view(status="RECEIVED"), onestop=view())
    r["conflict_details"] = [
        {"kind": "status_mismatch", "systems": ["onestop", "portal"], "since": "2026-03-02T10:00:00+07:00"},
        {"kind": "status_mismatch", "systems": ["civil", "portal"], "since": "2026-03-01T10:00:00+07:00"},
    ]
    [line] = rc.report_lines([r], "portal", "onestop")
    assert line["since"] == "2026-03-02T10:00:00+07:00"  # not the civil one's
    assert line["cause"] == "status_mismatch"


def test_summary_counts_each_dossier_once_by_cause_and_by_field() -> None:
    lines = [
        {"cause": "calendar_holiday", "fields": "due_at, outcome"},
        {"cause": "calendar_holiday", "fields": "due_at"},
        {"cause": "no_cause_found", "fields": "presence"},
    ]
    assert rc.summary(lines) == [
        {"cause": "calendar_holiday", "dossiers": 2},
        {"cause": "no_cause_found", "dossiers": 1},
    ]
    assert rc.by_field(lines) == {"presence": 1, "due_at": 2, "outcome": 1}


def test_candidates_select_by_both_systems_with_values_as_parameters() -> None:
    sql, params = rc.candidates(Filters(units=("U1",)), "portal", "onestop")
    assert "portal" not in sql and "onestop" not in sql
    assert {v for k, v in params.items() if k.endswith("_a") or k.endswith("_b")} == {"portal", "onestop"}
    assert params["units"] == ["U1"]
