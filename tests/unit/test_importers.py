"""The importers, against the real WABO receipt log and against small broken files.

The WABO log (CoSeLoG project; J.C.A.M. Buijs, 4TU.ResearchData, 2014,
doi:10.4121/uuid:a07386a5-7be3-4367-9535-70bc9e77dbe6) is the same data in two exports, a CSV and
a gzipped XES. Every figure the importer produces is recounted here straight from the raw CSV with
the csv module, so a mapping or reader mistake shows up as a number that does not match.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import os
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from producers.importers import (
    ImportFileError,
    ImportJob,
    ImportReport,
    MappingError,
    detect_format,
    iter_events,
    load_mapping,
    parse_mapping,
    run_import,
)
from producers.importers.jsonl import event_to_json, read_events, write_events
from producers.importers.mapping import MAPPINGS_DIR
from producers.importers.tabular import id_time
from schemas import codec
from streams.model import Channel, DossierEvent, Status
from streams.normalise import normalise

SHARED = Path(os.environ.get("DONGBO_SHARED_DATA") or Path(__file__).parents[2].parent / "shared" / "data")
WABO = SHARED / "wabo-receipt"
CSV_PATH = WABO / "receipt.csv"
XES_PATH = WABO / "receipt.xes.gz"
T_IMPORT = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def wabo_data() -> None:
    """The real log is part of the test data (CI has it too): missing is a failure, not a skip."""
    if not (CSV_PATH.is_file() and XES_PATH.is_file()):
        pytest.fail(f"the WABO log is not at {WABO}: set DONGBO_SHARED_DATA to the shared data folder")


needs_wabo = pytest.mark.usefixtures("wabo_data")

CHANNELS = {"Internet": Channel.ONLINE, "e-mail": Channel.ONLINE, "Desk": Channel.COUNTER,
            "Post": Channel.POSTAL, "Intern": Channel.COUNTER}  # fmt: skip
UNITS = {"General": "WABO-GENERAL", "Customer contact": "WABO-CUSTOMER-CONTACT", "Experts": "WABO-EXPERTS"}


def _parse(
    path: Path, fmt: str, at: datetime = T_IMPORT, **kw: Any
) -> tuple[list[DossierEvent], ImportReport]:
    report = ImportReport()
    mapping = kw.pop("mapping", None) or load_mapping("wabo-receipt")
    events = list(iter_events(path, fmt, report, source=None, mapping=mapping, ingested_at=at, **kw))
    return events, report


@pytest.fixture(scope="module")
def wabo_csv() -> tuple[list[DossierEvent], ImportReport]:
    return _parse(CSV_PATH, "csv")


@pytest.fixture(scope="module")
def wabo_xes() -> tuple[list[DossierEvent], ImportReport]:
    return _parse(XES_PATH, "xes")


@pytest.fixture(scope="module")
def raw_rows() -> list[dict[str, str]]:
    with CSV_PATH.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def raw_cases(raw_rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Case id → its first row (case columns are the same on every row of a case in this log)."""
    cases: dict[str, dict[str, str]] = {}
    for row in raw_rows:
        cases.setdefault(row["case:concept:name"], row)
    return cases


def _by_dossier(events: list[DossierEvent]) -> dict[str, list[DossierEvent]]:
    out: dict[str, list[DossierEvent]] = defaultdict(list)
    for e in events:
        out[e.dossier_id].append(e)
    return out


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- the real log -------------------------------------------------------------------------------


@needs_wabo
@pytest.mark.parametrize("which", ["wabo_csv", "wabo_xes"])
def test_whole_log_is_read_without_a_skipped_row(which: str, request: pytest.FixtureRequest) -> None:
    events, report = request.getfixturevalue(which)
    assert report.rows_read == 8577
    assert len(report.dossiers) == 1434
    assert report.skipped == Counter() and report.notes == Counter() and report.error is None
    # one event per row, one start per case, one end per case with an end date (1,329)
    assert len(events) == report.events == 8577 + 1434 + 1329


@needs_wabo
def test_csv_and_xes_agree_event_for_event(wabo_csv: Any, wabo_xes: Any) -> None:
    from_csv, from_xes = wabo_csv[0], wabo_xes[0]
    assert [e.event_id for e in from_csv] == [e.event_id for e in from_xes]
    for a, b in zip(from_csv, from_xes, strict=True):
        assert a.to_record() == b.to_record(), a.source_event_id


@needs_wabo
def test_event_ids_are_stable_across_parses(wabo_csv: Any) -> None:
    again, _ = _parse(CSV_PATH, "csv", at=T_IMPORT + timedelta(days=30))
    assert [e.event_id for e in again] == [e.event_id for e in wabo_csv[0]]
    assert len({e.event_id for e in again}) == len(again)  # and no two events share one


@needs_wabo
def test_every_dossier_has_unit_channel_and_dates(
    wabo_csv: Any, raw_cases: dict[str, dict[str, str]]
) -> None:
    for dossier_id, events in _by_dossier(wabo_csv[0]).items():
        case = raw_cases[dossier_id.removeprefix("WABO-")]
        assert dossier_id == f"WABO-{case['case:concept:name']}"
        for e in events:
            assert e.source == "wabo" and e.procedure_code == "WABO-OMGEVINGSVERGUNNING"
            assert e.unit_code == UNITS[case["case:department"]]
            assert e.channel is CHANNELS[case["case:channel"]]
            assert e.due_at == _t(case["case:deadline"])
            assert (
                e.attributes["planned_end"]
                == _t(case["case:enddate_planned"]).astimezone(timezone(timedelta(hours=7))).isoformat()
            )
        starts = [e for e in events if e.source_status == "case:startdate"]
        ends = [e for e in events if e.source_status == "case:enddate"]
        assert len(starts) == 1 and starts[0].occurred_at == _t(case["case:startdate"])
        online = CHANNELS[case["case:channel"]] is Channel.ONLINE
        assert starts[0].status is (Status.SUBMITTED if online else Status.RECEIVED)
        if case["case:enddate"]:
            assert len(ends) == 1 and ends[0].occurred_at == _t(case["case:enddate"])
            assert ends[0].status is Status.RESULT_READY
        else:
            assert ends == []
        # task attributes belong to their own event, not to the synthesised ones
        assert "task_id" not in starts[0].attributes


@needs_wabo
def test_statistics_equal_a_recount_of_the_raw_csv(
    wabo_csv: Any, raw_rows: list[dict[str, str]], raw_cases: dict[str, dict[str, str]]
) -> None:
    events = wabo_csv[0]
    first = {d: evs[0] for d, evs in _by_dossier(events).items()}

    per_channel = Counter(CHANNELS[c["case:channel"]] for c in raw_cases.values())
    assert Counter(e.channel for e in first.values()) == per_channel
    assert per_channel == {Channel.ONLINE: 1271, Channel.COUNTER: 110, Channel.POSTAL: 53}

    per_unit = Counter(UNITS[c["case:department"]] for c in raw_cases.values())
    assert Counter(e.unit_code for e in first.values()) == per_unit
    assert per_unit == {"WABO-GENERAL": 1390, "WABO-CUSTOMER-CONTACT": 29, "WABO-EXPERTS": 15}

    ended = sum(1 for c in raw_cases.values() if c["case:enddate"])
    assert ended == 1329
    assert sum(1 for e in events if e.status is Status.RESULT_READY) == ended

    # every activity row became one event with the activity as the source's own status
    activity_events = Counter(e.source_status for e in events if "synthesised_from" not in e.attributes)
    assert activity_events == Counter(r["concept:name"] for r in raw_rows)
    assert sum(1 for e in events if e.status is Status.SUPPLEMENT_REQUESTED) == sum(
        1 for r in raw_rows if r["concept:name"].startswith("T20 ")
    )
    assert sum(1 for e in events if e.status is Status.TRANSFERRED) == sum(
        1 for r in raw_rows if r["concept:name"].startswith("T08 ")
    )
    # and each at the row's own time, under the task id
    by_sid = {e.source_event_id: e for e in events}
    for r in raw_rows:
        at = _t(r["time:timestamp"])
        e = by_sid[f"{r['case:concept:name']}/{r['concept:instance']}@{id_time(at)}"]
        assert e.occurred_at == at and e.attributes["task_id"] == r["concept:instance"]


@needs_wabo
def test_every_activity_of_the_log_has_an_explicit_rule(raw_rows: list[dict[str, str]]) -> None:
    mapping = load_mapping("wabo-receipt")
    assert mapping.default_status is None  # skip: a new activity is reported, never guessed
    for name in {r["concept:name"] for r in raw_rows}:
        matched, status = mapping.status_for(name)
        assert matched and status is not None, name


@needs_wabo
def test_imported_events_survive_the_wire_and_the_import_normaliser(wabo_csv: Any) -> None:
    """What the worker will see: Avro bytes on src.import.dossier, normalised, same event."""
    now = datetime.now(UTC)
    for e in wabo_csv[0][:500]:
        back = normalise("import", codec.encode("vn.dongbo.DossierEvent", e.to_record()), now)
        assert back == dataclasses.replace(e, ingested_at=back.ingested_at)


@needs_wabo
def test_limit_counts_rows(tmp_path: Path) -> None:
    for path, fmt in ((CSV_PATH, "csv"), (XES_PATH, "xes")):
        events, report = _parse(path, fmt, limit=100)
        assert report.rows_read == 100
        assert sum(1 for e in events if "synthesised_from" not in e.attributes) == 100


# -- bad rows -----------------------------------------------------------------------------------

HEADER = ("case:channel,case:concept:name,case:deadline,case:department,case:enddate,"
          "case:enddate_planned,case:group,case:responsible,case:startdate,concept:instance,"
          "concept:name,lifecycle:transition,org:group,org:resource,time:timestamp")  # fmt: skip
GOOD = ("Desk,case-1,2011-12-06 13:41:31+01:00,General,2011-10-20 10:00:00+02:00,"
        "2011-12-06 13:41:31+01:00,,R1,2011-10-11 13:42:22+02:00,task-{n},Confirmation of receipt,"
        "complete,Group 1,R1,{ts}")  # fmt: skip


def _csv_file(tmp_path: Path, lines: list[str], raw_tail: bytes = b"") -> Path:
    path = tmp_path / "export.csv"
    path.write_bytes(("\n".join([HEADER, *lines]) + "\n").encode() + raw_tail)
    return path


def _row(**changes: str) -> str:
    values = next(
        csv.reader([GOOD.format(n=changes.pop("n", "1"), ts=changes.pop("ts", "2011-10-11 14:00:00+02:00"))])
    )
    names = HEADER.split(",")
    for col, value in changes.items():
        values[names.index(col.replace("__", ":"))] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(values)
    return buf.getvalue()


def test_bad_rows_are_skipped_with_their_reason(tmp_path: Path) -> None:
    lines = [
        _row(n="1"),
        _row(n="2", case__concept__name=""),  # missing case id
        _row(n="3", ts="yesterday"),  # bad timestamp
        _row(n="4", ts="2011-10-11 14:00:00"),  # naive: no offset
        _row(n="5", ts="1970-01-01 00:00:00+00:00"),  # an unset clock
        _row(n="6", concept__name="T99 Something new"),  # unmapped activity, default skip
        _row(n="7", concept__name=""),  # missing activity
        "Desk,case-1,too,few",  # malformed
        _row(n="8", ts="2011-10-11 15:00:00+02:00"),
    ]
    path = _csv_file(tmp_path, lines, raw_tail=b"Desk,case-9,\xff\xfe bad bytes,General,,,,,,,,,,,\n")
    events, report = _parse(path, "csv")
    assert report.rows_read == 10
    assert report.skipped == Counter(
        missing_case_id=1, bad_timestamp=3, unmapped_activity=1, missing_activity=1,
        malformed_row=1, bad_encoding=1,
    )  # fmt: skip
    assert "line 3" in report.examples["missing_case_id"][0]
    assert "'T99 Something new'" in report.examples["unmapped_activity"][0]
    assert any("no UTC offset" in ex for ex in report.examples["bad_timestamp"])
    tasks = [e.attributes.get("task_id") for e in events if "task_id" in e.attributes]
    assert tasks == ["task-1", "task-8"]
    # the case's start and end are made once, even though most of its rows were bad
    assert Counter(e.source_status for e in events if "synthesised_from" in e.attributes) == {
        "case:startdate": 1,
        "case:enddate": 1,
    }
    assert len(report.dossiers) == 1 and report.error is None


def test_bad_case_dates_are_noted_and_left_out(tmp_path: Path) -> None:
    path = _csv_file(tmp_path, [_row(case__deadline="31/12/2011", case__enddate="", case__startdate="soon")])
    events, report = _parse(path, "csv")
    assert report.skipped == Counter()
    assert report.notes == Counter(bad_due_date=1, bad_start_date=1)
    assert [e.source_status for e in events] == ["Confirmation of receipt"]
    assert events[0].due_at is None


def test_unmapped_channel_and_unit_are_kept_and_noted(tmp_path: Path) -> None:
    path = _csv_file(tmp_path, [_row(case__channel="Fax", case__department="Archive")])
    events, report = _parse(path, "csv")
    assert report.notes == Counter(unmapped_channel=1, unmapped_unit=1)
    assert {e.channel for e in events} == {Channel.UNKNOWN}
    assert {e.unit_code for e in events} == {"Archive"}
    assert events[0].attributes["source_channel"] == "Fax"


def test_a_csv_without_the_mapped_columns_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("id,what,when\n1,x,2011-01-01T00:00:00+00:00\n")
    with pytest.raises(ImportFileError, match=r"no column 'case:concept:name'.*id, what, when"):
        _parse(path, "csv")


XES_HEAD = (
    '<?xml version="1.0"?><log xmlns="http://www.xes-standard.org/"><string key="concept:name" value="x"/>'
)


def _trace(case: str, *events: str, extra: str = "") -> str:
    return (f'<trace><string key="concept:name" value="{case}"/><string key="channel" value="Post"/>'
            f'<string key="department" value="Experts"/>{extra}{"".join(events)}</trace>')  # fmt: skip


def _event(task: str, name: str, ts: str | None) -> str:
    when = "" if ts is None else f'<date key="time:timestamp" value="{ts}"/>'
    attrs = f'<string key="concept:instance" value="{task}"/><string key="concept:name" value="{name}"/>'
    return f"<event>{attrs}{when}</event>"


def test_xes_bad_events_are_skipped_and_trace_attributes_may_follow_the_events(tmp_path: Path) -> None:
    body = (
        XES_HEAD
        + _trace(
            "case-1",
            _event("t1", "Confirmation of receipt", "2011-10-11T13:45:40.276+02:00"),
            _event("t2", "T02 Check confirmation of receipt", None),
            _event("t3", "T02 Check confirmation of receipt", "not a time"),
            # XES allows trace attributes after the events: they still apply to every event
            extra="",
        ).replace("</trace>", '<date key="deadline" value="2011-12-06T13:41:31.788+01:00"/></trace>')
        + "</log>"
    )
    path = tmp_path / "log.xes.gz"
    path.write_bytes(gzip.compress(body.encode()))
    events, report = _parse(path, "xes")
    assert report.rows_read == 3 and report.skipped == Counter(bad_timestamp=2)
    assert report.examples["bad_timestamp"][0].startswith("trace 1 event 2")
    (e,) = events
    assert e.dossier_id == "WABO-case-1" and e.channel is Channel.POSTAL and e.unit_code == "WABO-EXPERTS"
    assert e.due_at == _t("2011-12-06T13:41:31.788+01:00")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: gzip.compress(b)[:-40], "truncated"),
        (lambda b: gzip.compress(b.replace(b"</trace><trace>", b"</trace><trace></log>")), "XML is broken"),
    ],
)
def test_a_broken_xes_stops_with_an_error_and_keeps_what_it_read(
    tmp_path: Path, damage: Any, message: str
) -> None:
    at = "2011-10-11T13:45:40.276+02:00"
    traces = "".join(_trace(f"case-{i}", _event(f"t{i}", "Confirmation of receipt", at)) for i in range(400))
    path = tmp_path / "log.xes.gz"
    path.write_bytes(damage((XES_HEAD + traces + "</log>").encode()))
    _, report = _parse(path, "xes")
    assert report.error is not None and message in report.error
    assert 0 < report.rows_read < 400 or message == "XML is broken"
    assert len(report.dossiers) == report.rows_read


def test_naive_times_with_a_declared_offset_and_a_strptime_format(tmp_path: Path) -> None:
    mapping = parse_mapping(
        """
        source: onestop-export
        dossier_id_prefix: ""
        columns:
          {case_id: MaHoSo, activity: TrangThai, timestamp: ThoiGian, unit: DonVi, due_date: NgayHenTra}
        time: {format: "%d/%m/%Y %H:%M:%S", naive_offset: "+07:00"}
        csv: {delimiter: ";"}
        statuses:
          - {activity: "Đã tiếp nhận", status: RECEIVED}
        default_status: IN_PROGRESS
        """
    )
    path = tmp_path / "vn.csv"
    path.write_text(
        "MaHoSo;TrangThai;ThoiGian;DonVi;NgayHenTra\n"
        "000.00.15.H17-251125-0001;ĐÃ TIẾP NHẬN;25/11/2025 09:15:00;H17;28/11/2025 09:15:00\n"
        "000.00.15.H17-251125-0001;Đang xử lý;25/11/2025 10:00:00;H17;28/11/2025 09:15:00\n",
        encoding="utf-8",
    )
    events, report = _parse(path, "csv", mapping=mapping)
    assert report.skipped == Counter()
    assert [e.status for e in events] == [Status.RECEIVED, Status.IN_PROGRESS]
    assert events[0].occurred_at == datetime(2025, 11, 25, 2, 15, tzinfo=UTC)
    assert events[0].due_at == datetime(2025, 11, 28, 2, 15, tzinfo=UTC)
    assert events[0].source == "onestop-export" and events[0].unit_code == "H17"


# -- dossier-events (JSON Lines) ----------------------------------------------------------------


def _full_event(**changes: Any) -> DossierEvent:
    base = DossierEvent(
        dossier_id="000.00.15.H17-251125-0001",
        source="portal-export",
        source_event_id="ev-1",
        status=Status.SUPPLEMENT_REQUESTED,
        occurred_at=datetime(2025, 11, 25, 9, 15, 0, 123000, tzinfo=timezone(timedelta(hours=7))),
        ingested_at=T_IMPORT,
        source_seq=3,
        source_status="5",
        recorded_at=datetime(2025, 11, 25, 9, 16, tzinfo=UTC),
        procedure_code="1.001234",
        unit_code="000.00.15.H17",
        channel=Channel.POSTAL,
        due_at=datetime(2025, 11, 28, 17, 0, tzinfo=timezone(timedelta(hours=7))),
        overdue=False,
        attributes={"supplement_count": "1"},
    )
    return dataclasses.replace(base, event_id="", **changes)


def _jsonl(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_round_trips_canonical_events(tmp_path: Path) -> None:
    originals = [
        _full_event(),
        _full_event(source_event_id="ev-2", overdue=None, attributes={}, source_seq=None),
    ]
    path = tmp_path / "events.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        assert write_events(originals, fh) == 2
    report = ImportReport()
    back = list(read_events(path, report, T_IMPORT))
    assert back == originals
    assert report.rows_read == 2 and report.skipped == Counter()


@needs_wabo
def test_jsonl_round_trips_the_whole_wabo_import(tmp_path: Path, wabo_csv: Any) -> None:
    path = tmp_path / "wabo.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        write_events(wabo_csv[0], fh)
    report = ImportReport()
    back = list(read_events(path, report, T_IMPORT, default_source="wabo"))
    assert back == wabo_csv[0] and report.skipped == Counter()


def test_jsonl_minimal_line_and_default_source(tmp_path: Path) -> None:
    line = {
        "source_event_id": "a",
        "dossier_id": "D1",
        "status": "RECEIVED",
        "occurred_at": "2025-11-25T09:00:00+07:00",
    }
    path = _jsonl(tmp_path, [json.dumps(line), ""])
    report = ImportReport()
    (e,) = read_events(path, report, T_IMPORT, default_source="portal")
    assert e.source == "portal" and e.channel is Channel.UNKNOWN and e.attributes == {}
    assert report.rows_read == 1  # the blank line is not a row


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "DONE"}, "bad_field"),
        ({"channel": "FAX"}, "bad_field"),
        ({"occurred_at": "2025-11-25T09:00:00"}, "bad_timestamp"),
        ({"occurred_at": "tomorrow"}, "bad_timestamp"),
        ({"due_at": "1970-01-01T00:00:00+00:00"}, "bad_timestamp"),
        ({"dossier_id": " "}, "missing_field"),
        ({"source_event_id": None}, "missing_field"),
        ({"occured_at": "2025-11-25T09:00:00+07:00"}, "unknown_field"),
        ({"event_id": "forged"}, "unknown_field"),
        ({"attributes": {"n": 1}}, "bad_field"),
        ({"source_seq": "3"}, "bad_field"),
        ({"overdue": "no"}, "bad_field"),
        ({"unit_code": 17}, "bad_field"),
        ({"source": "land"}, "source_mismatch"),
    ],
)
def test_jsonl_bad_lines_are_skipped_with_their_reason(
    tmp_path: Path, change: dict[str, Any], reason: str
) -> None:
    good = event_to_json(_full_event())
    path = _jsonl(tmp_path, [json.dumps(good), json.dumps({**good, **change}), json.dumps(good)])
    report = ImportReport()
    events = list(read_events(path, report, T_IMPORT, default_source="portal-export"))
    assert len(events) == 2 and report.rows_read == 3
    assert report.skipped == Counter({reason: 1})
    assert report.examples[reason][0].startswith("line 2: ")


def test_jsonl_lines_that_are_not_objects(tmp_path: Path) -> None:
    report = ImportReport()
    assert list(read_events(_jsonl(tmp_path, ["{not json", "[1]", '"x"']), report, T_IMPORT, "p")) == []
    assert report.skipped == Counter(invalid_json=1, bad_field=2)


def test_jsonl_needs_a_source_from_the_line_or_the_command(tmp_path: Path) -> None:
    line = event_to_json(_full_event())
    del line["source"]
    report = ImportReport()
    assert list(read_events(_jsonl(tmp_path, [json.dumps(line)]), report, T_IMPORT)) == []
    assert report.skipped == Counter(missing_field=1)


# -- mapping files ------------------------------------------------------------------------------

MINIMAL = """
columns: {case_id: c, activity: a, timestamp: t}
statuses:
  - {activity: Start, status: RECEIVED}
"""


def test_a_minimal_mapping_has_safe_defaults() -> None:
    m = parse_mapping(MINIMAL)
    assert m.default_status is None and m.end_status is Status.RESULT_READY and m.start_status == {}
    assert m.status_for("  start ") == (True, Status.RECEIVED)  # exact names: case and spaces folded
    assert m.status_for("Other") == (False, None)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            "columns: {activity: a, timestamp: t}\nstatuses: [{activity: x, status: RECEIVED}]",
            "columns.case_id",
        ),
        (MINIMAL + "colums: {}\n", "colums"),
        (MINIMAL.replace("RECEIVED", "RECIEVED"), "statuses[0].status"),
        (MINIMAL + "  - {activity: S2, regex: '^S', status: RECEIVED}\n", "statuses[1]"),
        (MINIMAL + "  - {regex: '(', status: RECEIVED}\n", "statuses[1].regex"),
        (MINIMAL + "  - {activity: START, status: IN_PROGRESS}\n", "statuses[1].activity"),
        (MINIMAL + "  - {regex: x}\n", "statuses[1].status"),
        (MINIMAL + "  - {activity: y, status: RECEIVED, colour: red}\n", "statuses[1]"),
        (MINIMAL.replace("statuses:\n  - {activity: Start, status: RECEIVED}", "statuses: []"), "statuses"),
        (MINIMAL + "default_status: LATER\n", "default_status"),
        (MINIMAL + "channels: {Web: INTERNET}\n", "channels.Web"),
        (MINIMAL + "channels: {Web: ONLINE, web: ONLINE}\n", "channels.web"),
        (MINIMAL + "start_status: {ONLINE: SUBMITTED}\n", "start_status"),
        (MINIMAL.replace("t}", "t, start_date: s}") + "start_status: {WEB: SUBMITTED}\n", "start_status.WEB"),
        (
            MINIMAL.replace("t}", "t, start_date: s}") + "start_status: {ONLINE: skip}\n",
            "start_status.ONLINE",
        ),
        (MINIMAL + "end_status: DONE\n", "end_status"),
        (MINIMAL + "time: {naive_offset: '7'}\n", "time.naive_offset"),
        (MINIMAL + "time: {format: 'dd/mm/yyyy'}\n", "time.format"),
        (MINIMAL + "time: {zone: UTC}\n", "time"),
        (MINIMAL + "csv: {delimiter: ';;'}\n", "csv"),
        (MINIMAL.replace("a, timestamp", "a, owner: o, timestamp"), "columns"),
        (MINIMAL + "version: 2\n", "version"),
        (MINIMAL + "attributes: {x: c1}\ncase_attributes: {x: c2}\n", "attributes"),
        (MINIMAL + "units: {A: }\n", "units.A"),
    ],
)
def test_mapping_errors_name_the_key(text: str, key: str) -> None:
    with pytest.raises(MappingError) as info:
        parse_mapping(text, where="m.yaml")
    assert str(info.value).startswith(f"m.yaml: {key}"), str(info.value)


def test_mapping_yaml_errors_and_duplicate_keys() -> None:
    with pytest.raises(MappingError, match="duplicate key 'columns'"):
        parse_mapping(MINIMAL + "columns: {}\n")
    with pytest.raises(MappingError, match="not valid YAML"):
        parse_mapping("columns: [")
    with pytest.raises(MappingError, match="top level"):
        parse_mapping("- a list")


def test_shipped_mappings_load_by_name_and_an_unknown_name_lists_them(tmp_path: Path) -> None:
    assert load_mapping("wabo-receipt").source == "wabo"
    assert load_mapping(MAPPINGS_DIR / "wabo-receipt.yaml").name == "wabo-receipt"
    with pytest.raises(MappingError, match=r"no such mapping file.*'wabo-receipt'"):
        load_mapping("wabo")


# -- the run ------------------------------------------------------------------------------------


def test_detect_format() -> None:
    assert detect_format(Path("receipt.xes.gz")) == "xes"
    assert detect_format(Path("a.CSV")) == "csv"
    assert detect_format(Path("e.jsonl.gz")) == "dossier-events"
    assert detect_format(Path("e.txt")) is None and detect_format(Path("noext")) is None


@needs_wabo
def test_run_import_streams_to_the_publisher_and_reports_progress() -> None:
    sent: list[DossierEvent] = []
    lines: list[int] = []
    job = ImportJob(path=CSV_PATH, fmt="csv", mapping=load_mapping("wabo-receipt"), ingested_at=T_IMPORT,
                    progress=lambda r: lines.append(r.rows_read), progress_every=2000)  # fmt: skip
    report = run_import(job, publish=sent.append)
    assert lines == [2000, 4000, 6000, 8000, 8577]
    assert len(sent) == report.events == 11340 and report.source == "wabo"
    assert report.finished is not None and report.rate > 0
    text = report.summary()
    assert re.search(r"dossiers\s+1,434", text) and "dry run" in text


def test_run_import_without_a_source_name_is_a_file_error(tmp_path: Path) -> None:
    path = _csv_file(tmp_path, [_row()])
    with pytest.raises(ImportFileError, match="no source name"):
        run_import(ImportJob(path=path, fmt="csv", mapping=parse_mapping(MINIMAL)))


def test_a_long_import_reports_its_progress_as_prometheus_metrics() -> None:
    from prometheus_client import CollectorRegistry

    from producers.importers.metrics import ImportCollector
    from producers.importers.report import SKIP_REASONS, ImportReport

    report = ImportReport(path="x.csv", fmt="csv", source="wabo")
    registry = CollectorRegistry()
    registry.register(ImportCollector(report))
    labels = {"format": "csv", "source": "wabo"}
    assert registry.get_sample_value("dongbo_import_rows_total", labels) == 0
    report.rows_read, report.events, report.published = 120, 100, 90
    report.skip(next(iter(SKIP_REASONS)), "row 7", "bad date")
    # Read live at each scrape: the figures move with the import.
    assert registry.get_sample_value("dongbo_import_rows_total", labels) == 120
    assert registry.get_sample_value("dongbo_import_events_total", labels) == 100
    assert registry.get_sample_value("dongbo_import_published_total", labels) == 90
    reason = {**labels, "reason": next(iter(SKIP_REASONS))}
    assert registry.get_sample_value("dongbo_import_skipped_rows_total", reason) == 1
