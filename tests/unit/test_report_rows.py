"""The reporting rows, filters and indicator scores: pure rules, no store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dongbo import export as ex
from sinks.report.indicators import INDICATORS, get_indicator
from sinks.report.query import DIMENSIONS, Filters, QueryError, figures, members, where
from sinks.report.rows import COLUMNS, TIMELINESS, legal_timeliness, report_row, source_timeliness

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 09:00 in Vietnam
DUE = T0 + timedelta(days=3)


def view(status: str, due: datetime | None = DUE, overdue: bool | None = None, last: datetime = T0) -> dict:
    return {
        "status": status,
        "due_at": due,
        "overdue": overdue,
        "last_occurred_at": last,
        "source_status": None,
    }


@pytest.mark.parametrize(
    ("outcome", "ended", "want"),
    [
        ("ON_TIME", T0, "ON_TIME"),
        ("ENDED_EARLY", T0, "ENDED_EARLY"),
        ("OVERDUE", T0, "OVERDUE"),
        ("PENDING", T0, "ENDED_NO_DUE"),  # ended, no legal due to judge it by
        ("PENDING", None, "OPEN"),
        ("OVERDUE", None, "OPEN_OVERDUE"),  # the merge judges an open dossier past due OVERDUE
    ],
)
def test_legal_timeliness(outcome: str, ended: datetime | None, want: str) -> None:
    assert legal_timeliness({"outcome": outcome, "ended_at": ended}) == want


def test_source_timeliness_reads_the_sources_flag_first_then_its_due_date() -> None:
    late_end = DUE + timedelta(hours=1)
    assert source_timeliness(view("RESULT_READY", overdue=True), None, T0) == "OVERDUE"
    assert source_timeliness(view("RESULT_READY", overdue=False), None, late_end) == "ON_TIME"
    assert source_timeliness(view("RESULT_READY"), None, late_end) == "OVERDUE"
    assert source_timeliness(view("RETURNED"), None, T0) == "ON_TIME"
    assert source_timeliness(view("RESULT_READY", due=None), None, T0) == "ENDED_NO_DUE"
    # The dossier's end, not the source's latest (late) task, is the end.
    assert source_timeliness(view("RESULT_READY", last=late_end), None, T0) == "ON_TIME"
    # Open: its flag, else its due date against the state's time.
    assert source_timeliness(view("IN_PROGRESS", overdue=True), T0, None) == "OPEN_OVERDUE"
    assert source_timeliness(view("IN_PROGRESS"), DUE + timedelta(seconds=1), None) == "OPEN_OVERDUE"
    assert source_timeliness(view("IN_PROGRESS"), DUE, None) == "OPEN"
    # A flag "not overdue" from the source's last record does not outlive its own due date.
    assert (
        source_timeliness(view("IN_PROGRESS", overdue=False), DUE + timedelta(seconds=1), None)
        == "OPEN_OVERDUE"
    )
    assert source_timeliness(view("IN_PROGRESS", overdue=False), DUE, None) == "OPEN"
    # A late task after the end makes the only source's view look open: the dossier's end counts.
    assert source_timeliness(view("IN_PROGRESS"), T0, T0, only_source=True) == "ON_TIME"
    assert source_timeliness(view("IN_PROGRESS"), T0, T0, only_source=False) == "OPEN"


def _state(**over: Any) -> dict[str, Any]:
    base = {
        "dossier_id": "D-1", "version": 3, "status": "IN_PROGRESS", "procedure_code": "1.001193",
        "unit_code": "U1", "channel": "ONLINE", "received_at": T0 - timedelta(hours=3), "ended_at": None,
        "due_at": DUE, "received_late": False, "alerts": ["near_deadline"], "outcome": "PENDING",
        "updated_at": T0, "conflicts": [{"kind": "status_mismatch"}, {"kind": "status_mismatch"}],
        "sources": {"portal": view("IN_PROGRESS"), "onestop": view("IN_PROGRESS", overdue=False)},
        "discrepancies": [{"source": "portal", "reason": "calendar_holiday"},
                          {"source": "portal", "reason": "calendar_holiday"}],
    }  # fmt: skip
    return {**base, **over}


def test_report_row_classifies_a_state() -> None:
    row = report_row(_state(), {"1.001193": "Hộ tịch"})
    assert list(row) == list(COLUMNS)
    assert row["field"] == "Hộ tịch" and row["unit"] == "U1" and row["timeliness"] == "OPEN"
    assert row["received_on"] == date(2026, 3, 2)  # the Vietnamese day, not UTC's 1 March
    assert row["near_deadline"] is True
    assert row["judged"] == {"onestop": "OPEN", "portal": "OPEN"}
    assert row["conflicts"] == ["status_mismatch"]
    assert row["sources"]["portal"]["reasons"] == ["calendar_holiday"]
    assert row["discrepancy_reasons"] == ["calendar_holiday"]
    assert row["sources"]["onestop"]["due_at"] == "2026-03-05T09:00:00+07:00"
    # Past its due, open: overdue, no longer near.
    late = report_row(_state(outcome="OVERDUE", alerts=["near_deadline", "overdue"]), {})
    assert (late["timeliness"], late["near_deadline"], late["field"]) == ("OPEN_OVERDUE", False, "?")


def test_filters_put_values_in_parameters_never_in_the_sql() -> None:
    nasty = "U1'; DROP TABLE dossiers; --"
    f = Filters(units=(nasty,), sources=("portal",), start=date(2026, 3, 1), end=date(2026, 3, 31))
    sql, params = figures(f, ["unit", "month"])
    assert nasty not in sql and params["units"] == [nasty]
    assert "received_on >= %(start)s" in sql and params["end"] == date(2026, 3, 31)
    sql, _ = members(Filters(period_by="ended", start=date(2026, 3, 1)))
    assert "ended_on >= %(start)s" in sql
    judged = where(Filters(judged_by="portal", timeliness=("OVERDUE",)))
    # A live system's judgement is a column of its own; an import's, a key of the jsonb.
    assert "d.judged_portal IS NOT NULL" in judged[0] and "d.judged_portal = ANY(%(timeliness)s)" in judged[0]
    wabo = where(Filters(judged_by="wabo", timeliness=("OVERDUE",)))
    assert "(d.judged ->> %(judged_by)s) = ANY(%(timeliness)s)" in wabo[0] and wabo[1]["judged_by"] == "wabo"
    # A list needs the details table, a figure never does.
    assert "dossier_details" in members(Filters())[0]
    assert "dossier_details" not in members(Filters(), ["dossier_id", "unit"])[0]
    assert "dossier_details" not in figures(Filters(judged_by="portal"), ["source", "outcome", "month"])[0]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Filters(start=date(2026, 3, 2), end=date(2026, 3, 1)), "inverted"),
        (lambda: Filters(period_by="paid"), "period by"),
        (lambda: Filters(timeliness=("LATE",)), "timeliness"),
        (lambda: figures(Filters(), ["unit", "unit"]), "repeated"),
        (lambda: figures(Filters(), ["colour"]), "cannot group by"),
        (lambda: members(Filters(), ["password"]), "unknown columns"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(make: Any, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        make()


def test_every_dimension_groups() -> None:
    for dim in DIMENSIONS:
        sql, _ = figures(Filters(), [dim])
        assert "GROUP BY 1" in sql


@given(st.sampled_from(sorted(INDICATORS)), st.floats(0, 1))
def test_score_is_full_at_the_target_and_proportional_below(indicator_id: str, rate: float) -> None:
    ind = get_indicator(indicator_id)
    score = ind.score(rate)
    assert score is not None and 0 <= score <= 1
    if rate >= ind.target:
        assert score == 1
    else:
        assert score == pytest.approx(rate / ind.target)
    assert ind.score(None) is None


def test_unknown_indicator_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"2\.1"):
        get_indicator("9.9")


@given(st.sampled_from(TIMELINESS), st.sampled_from(["vi", "en"]))
def test_export_rows_have_one_cell_per_header(timeliness: str, lang: str) -> None:
    row = {**report_row(_state(), {}), "timeliness": timeliness}
    sources = ["onestop", "portal", "land"]
    head = ex.headers(sources, lang, [("x", "X", "X")])
    cells = next(ex.table_rows([row], sources, lang, [lambda r: True]))
    assert len(cells) == len(head)
    assert (head[0], cells[0]) == (("Mã hồ sơ" if lang == "vi" else "Dossier code"), "D-1")


def test_the_766_attributes_become_typed_columns_and_malformed_counts_none() -> None:
    attrs = {
        "paid_online": "true",
        "documents_total": "3",
        "documents_digitised": "3",
        "documents_reused": "x",
    }
    row = report_row(_state(attributes=attrs), {})
    assert (row["paid_online"], row["documents_total"], row["documents_digitised"]) == (True, 3, 3)
    assert row["documents_reused"] is None and row["result_files"] is None  # malformed / not reported
    assert report_row(_state(), {})["paid_online"] is None
