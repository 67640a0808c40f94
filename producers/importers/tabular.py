"""Exports of other systems (CSV, IEEE XES) → canonical events, by a mapping file.

Both readers produce the same thing: rows, one per event, as ``{column: text}`` with the column
names of the CSV export. In XES the case attributes are on the ``<trace>`` and the event
attributes on each ``<event>``; they become ``case:<key>`` and ``<key>`` (the convention of the
process-mining tools that write such CSVs), so one mapping file serves both exports of a log.

Rows become events in ``rows_to_events``:

- every row with a mapped activity → one event at its timestamp, status from the mapping;
- each case's start date (if mapped) → one synthesised start event, status by channel;
- each case's end date (if mapped and present) → one synthesised end event (RESULT_READY).

Every ``source_event_id`` is built from the data only (case, the source's event id, the time), so
importing the same file twice, or its CSV and its XES export, yields the same event ids and the
worker applies each event once.
"""

from __future__ import annotations

import csv
import gzip
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from producers.importers.files import has_bad_bytes, open_text
from producers.importers.mapping import Mapping, parse_time
from producers.importers.report import ImportReport
from streams.model import Channel, DossierEvent, Status
from streams.normalise.timeparse import vn_iso

Row = dict[str, str]

XES_NS = "{http://www.xes-standard.org/}"
# Attribute elements of XES 1.0 / 2.0 whose value is a scalar we can carry as text.
_XES_SCALARS = {"string", "date", "int", "float", "boolean", "id"}

PLANNED_END_ATTR = "planned_end"
SYNTHESISED_ATTR = "synthesised_from"
SOURCE_CHANNEL_ATTR = "source_channel"  # streams.normalise.attrs.SOURCE_CHANNEL: same meaning
SOURCE_UNIT_ATTR = "source_unit"


class ImportFileError(Exception):
    """The file as a whole cannot be read (no such column, not gzip, ...): nothing row-level."""


# -- readers: path → (where, row) ---------------------------------------------------------------


def read_csv(
    path: Path, mapping: Mapping, report: ImportReport, limit: int | None = None
) -> Iterator[tuple[str, Row]]:
    """``(\"line N\", row)`` per data row; malformed rows are reported and left out."""
    with open_text(path) as fh:
        reader = csv.reader(fh, delimiter=mapping.csv_delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(f"{path}: the CSV header does not parse: {exc}") from exc
        missing = [
            mapping.columns[r]
            for r in ("case_id", "activity", "timestamp")
            if mapping.columns[r] not in header
        ]
        if missing:
            raise ImportFileError(
                f"{path}: no column {', '.join(map(repr, missing))} (mapping {mapping.name}); "
                f"the header has: {', '.join(header)}"
            )
        width = len(header)
        read = 0
        while limit is None or read < limit:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a NUL byte, an over-long field: skip that line
                read += 1
                report.rows_read += 1
                report.skip("malformed_row", f"line {reader.line_num}", str(exc))
                continue
            if not values:  # a blank line is not a row
                continue
            read += 1
            where = f"line {reader.line_num}"
            if len(values) != width:
                report.rows_read += 1
                report.skip("malformed_row", where, f"{len(values)} fields, the header has {width}")
                continue
            yield where, dict(zip(header, values, strict=True))


def read_xes(path: Path, report: ImportReport, limit: int | None = None) -> Iterator[tuple[str, Row]]:
    """``(\"trace T event E\", row)`` per ``<event>``, streamed with ``iterparse``.

    Only one trace is in memory at a time: its events are buffered until ``</trace>`` because
    XES allows the trace's own attributes after its events. Every finished element is cleared
    (and dropped from the root), so memory stays flat however long the log is.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    read = 0
    with opener(path, "rb") as fh:
        context = ET.iterparse(fh, events=("start", "end"))
        try:
            _, root = next(context)
            depth = 1
            trace_no = 0
            events: list[Row] = []
            for kind, el in context:
                if kind == "start":
                    depth += 1
                    continue
                depth -= 1
                tag = el.tag[len(XES_NS) :] if el.tag.startswith(XES_NS) else el.tag
                if tag == "event" and depth == 2:
                    events.append(_xes_attributes(el, ""))
                    el.clear()
                elif tag == "trace" and depth == 1:
                    trace_no += 1
                    case = _xes_attributes(el, "case:")
                    for n, ev in enumerate(events, start=1):
                        if limit is not None and read >= limit:
                            return
                        read += 1
                        yield f"trace {trace_no} event {n}", {**case, **ev}
                    events = []
                    el.clear()
                    root.clear()  # drop finished traces (and log-level metadata) from the root
                elif depth == 1:
                    root.clear()  # log-level attributes, extensions, globals: not needed
        except ET.ParseError as exc:
            report.error = f"{path}: XML is broken at {exc.position}: {exc}"
        except (LookupError, ValueError) as exc:
            # The XML declaration names an encoding the parser cannot read (unknown, or multi-byte
            # like UTF-7 / UTF-32): found by the fuzzer (tests/fuzz), a traceback before.
            if isinstance(exc, ValueError) and "encoding" not in str(exc):
                raise
            report.error = (
                f"{path}: the XML declares an encoding that cannot be read ({exc}); save the log as UTF-8"
            )
        except (EOFError, gzip.BadGzipFile, OSError) as exc:
            report.error = f"{path}: the file is truncated or not gzip: {exc}"


def _xes_attributes(el: ET.Element, prefix: str) -> Row:
    """The element's direct scalar attributes (nested ones and the events are not taken)."""
    out: Row = {}
    for child in el:
        kind = child.tag[len(XES_NS) :] if child.tag.startswith(XES_NS) else child.tag
        key, value = child.get("key"), child.get("value")
        if kind in _XES_SCALARS and key is not None and value is not None:
            out[prefix + key] = value
    return out


# -- rows → events ------------------------------------------------------------------------------


def id_time(dt: datetime) -> str:
    """The time as it appears in source event ids: UTC, milliseconds (Avro's resolution).

    Written from the parsed instant, not the text, so that the CSV's ``13:45:40.276000+02:00``
    and the XES's ``13:45:40.276+02:00`` give the same id.
    """
    return dt.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


@dataclass(frozen=True)
class _Case:
    """What every event of one case carries, computed once per run of rows of the case."""

    case: str
    dossier_id: str
    channel: Channel
    unit: str | None
    due_at: datetime | None
    procedure: str | None
    attributes: dict[str, str]
    start: datetime | None
    end: datetime | None


class _Converter:
    """Rows of one import → events."""

    def __init__(self, mapping: Mapping, source: str, report: ImportReport, ingested_at: datetime) -> None:
        self.m = mapping
        self.source = source
        self.report = report
        self.ingested_at = ingested_at
        cols = mapping.columns
        self.c_case, self.c_activity, self.c_time = cols["case_id"], cols["activity"], cols["timestamp"]
        self.c_event_id, self.c_overdue = cols.get("event_id"), cols.get("overdue")
        # The columns that describe the case: rows with equal values share one _Case.
        self.case_columns = [c for c in (cols.get(r) for r in _CASE_ROLES) if c is not None]
        self.case_columns += list(mapping.case_attributes.values())
        self._last_key: tuple[str, ...] | None = None
        self._last_case: _Case | None = None
        self.synthesised: set[str] = set()  # source_event_ids of the start / end events made
        self._parse = lru_cache(maxsize=8192)(self._parse_uncached)

    def _parse_uncached(self, text: str) -> datetime:
        return parse_time(text, self.m.time_format, self.m.naive_offset)

    def _get(self, row: Row, col: str | None) -> str | None:
        if col is None:
            return None
        value = row.get(col)
        return (value.strip() or None) if value else None

    def _case_time(self, row: Row, role: str, where: str) -> datetime | None:
        """An optional case-level time; a bad one is noted and treated as absent."""
        text = self._get(row, self.m.column(role))
        if text is None:
            return None
        try:
            return self._parse(text)
        except ValueError as exc:
            self.report.note(f"bad_{role}", where, f"{self.m.columns[role]}={text!r}: {exc}")
            return None

    def convert(self, where: str, row: Row) -> Iterator[DossierEvent]:
        report = self.report
        report.rows_read += 1
        if has_bad_bytes(*row.values()):
            report.skip("bad_encoding", where, "bytes that are not UTF-8")
            return
        case = self._get(row, self.c_case)
        if case is None:
            report.skip("missing_case_id", where, f"{self.c_case} is blank")
            return
        key = (case, *(row.get(c, "") for c in self.case_columns))
        info = self._last_case
        if key != self._last_key or info is None:
            # A new case (or the case's columns changed): its start and end are facts of their
            # own, made even when this row's own timestamp turns out to be bad.
            info = self._case_info(case, row, where)
            self._last_key, self._last_case = key, info
            yield from self._synthesise(info)

        activity = self._get(row, self.c_activity)
        if activity is None:
            report.skip("missing_activity", where, f"{self.c_activity} is blank")
            return
        text = self._get(row, self.c_time)
        if text is None:
            report.skip("bad_timestamp", where, f"{self.c_time} is blank")
            return
        try:
            at = self._parse(text)
        except ValueError as exc:
            report.skip("bad_timestamp", where, f"{self.c_time}={text!r}: {exc}")
            return
        matched, status = self.m.status_for(activity)
        if status is None:
            why = "the mapping skips it" if matched else "no status rule matches (default_status: skip)"
            report.skip("unmapped_activity", where, f"{activity!r}: {why}")
            return
        own_id = self._get(row, self.c_event_id)
        # Without an event id column, two rows of one case with the same activity at the same
        # millisecond get one id: they are the same fact exported twice.
        sid = f"{case}/{own_id or activity}@{id_time(at)}"
        attributes = dict(info.attributes)
        for name, col in self.m.attributes.items():
            value = self._get(row, col)
            if value is not None:
                attributes[name] = value
        overdue = self._overdue(row, where)
        yield self._event(info, sid, status, at, activity, attributes, overdue)

    def _overdue(self, row: Row, where: str) -> bool | None:
        raw = self._get(row, self.c_overdue)
        if raw is None:
            return None
        flag = _truth(raw)
        if flag is None:
            self.report.note("bad_overdue", where, repr(raw))
        return flag

    def _case_info(self, case: str, row: Row, where: str) -> _Case:
        attributes: dict[str, str] = {}
        for name, col in self.m.case_attributes.items():
            value = self._get(row, col)
            if value is not None:
                attributes[name] = value
        planned = self._case_time(row, "planned_end", where)
        if planned is not None:
            attributes[PLANNED_END_ATTR] = vn_iso(planned)

        channel = Channel.UNKNOWN
        raw_channel = self._get(row, self.m.column("channel"))
        if raw_channel is not None:
            mapped = self.m.channel_for(raw_channel)
            if mapped is None:
                attributes[SOURCE_CHANNEL_ATTR] = raw_channel  # kept so the map can be completed
                self.report.note("unmapped_channel", where, repr(raw_channel))
            channel = mapped or Channel.UNKNOWN

        unit = self._get(row, self.m.column("unit"))
        if unit is not None:
            code = self.m.unit_for(unit)
            if code is not None:
                attributes[SOURCE_UNIT_ATTR] = unit
            elif self.m.units:
                self.report.note("unmapped_unit", where, f"{unit!r} kept as the unit code")
            unit = code or unit
        return _Case(
            case=case,
            dossier_id=f"{self.m.dossier_id_prefix}{case}",
            channel=channel,
            unit=unit,
            due_at=self._case_time(row, "due_date", where),
            procedure=self._get(row, self.m.column("procedure")) or self.m.procedure_code,
            attributes=attributes,
            start=self._case_time(row, "start_date", where),
            end=self._case_time(row, "end_date", where),
        )

    def _synthesise(self, info: _Case) -> Iterator[DossierEvent]:
        start_status = self.m.start_status.get(info.channel) or self.m.start_status.get(Channel.UNKNOWN)
        for kind, at, status, role in (
            ("start", info.start, start_status, "start_date"),
            ("end", info.end, self.m.end_status, "end_date"),
        ):
            if at is None or status is None:
                continue
            sid = f"{info.case}#{kind}@{id_time(at)}"
            if sid in self.synthesised:  # the case's rows were not adjacent: made already
                continue
            self.synthesised.add(sid)
            column = self.m.columns[role]
            attributes = {**info.attributes, SYNTHESISED_ATTR: column}
            yield self._event(info, sid, status, at, column, attributes, None)

    def _event(
        self,
        info: _Case,
        sid: str,
        status: Status,
        at: datetime,
        source_status: str,
        attributes: dict[str, str],
        overdue: bool | None,
    ) -> DossierEvent:
        event = DossierEvent(
            dossier_id=info.dossier_id,
            source=self.source,
            source_event_id=sid,
            status=status,
            occurred_at=at,
            ingested_at=self.ingested_at,
            source_status=source_status,
            procedure_code=info.procedure,
            unit_code=info.unit,
            channel=info.channel,
            due_at=info.due_at,
            overdue=overdue,
            attributes=attributes,
        )
        self.report.produced(event)
        return event


_CASE_ROLES = ("unit", "channel", "procedure", "start_date", "due_date", "end_date", "planned_end")
_TRUE = {"1", "true", "yes", "y", "t", "x"}
_FALSE = {"0", "false", "no", "n", "f", ""}


def _truth(text: str) -> bool | None:
    t = text.strip().casefold()
    return True if t in _TRUE else False if t in _FALSE else None


def rows_to_events(
    rows: Iterable[tuple[str, Row]],
    mapping: Mapping,
    source: str,
    report: ImportReport,
    ingested_at: datetime,
) -> Iterator[DossierEvent]:
    converter = _Converter(mapping, source, report, ingested_at)
    for where, row in rows:
        yield from converter.convert(where, row)
