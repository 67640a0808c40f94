"""Property-based fuzzing of everything that reads outside input: the Avro framing, each source
schema through its normaliser and the merge engine, the canonical-event decoder, dead letters,
the importers (CSV, XES, JSON Lines) and their mappings.

The property is the same everywhere: any input is either accepted (an event that obeys the
model's invariants) or refused with the module's own error (a dead-letter reason, a skipped row
with its place, a file or mapping error that says what is wrong), never anything else. The
coverage-guided counterpart (atheris) is ``tests/fuzz/``."""

from __future__ import annotations

import csv
import gzip
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.partitioning import partition_of
from contract.settings import Settings
from contract.sources import RAW_SCHEMAS
from producers.importers.mapping import MappingError, load_mapping, parse_mapping
from producers.importers.pipeline import ImportJob, run_import
from producers.importers.tabular import ImportFileError
from schemas import codec
from streams.agents.merge import Rejected, decode_event
from streams.configured import worker_policy
from streams.deadletter import DeadLetter
from streams.engine import MergeEngine
from streams.model import Status
from streams.normalise.errors import NormaliseError
from streams.normalise.registry import normalise
from tests.unit.test_normalise import INGESTED, SOURCES, raw_bytes

FUZZ = settings(
    max_examples=int(os.environ.get("DONGBO_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
POLICY = worker_policy(Settings())
WABO = load_mapping("wabo-receipt")


# -- inputs ---------------------------------------------------------------------------------------


def _named(schema: Any, named: dict[str, Any]) -> None:
    """Every named type of a parsed schema, by full name."""
    if isinstance(schema, list):
        for s in schema:
            _named(s, named)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum", "fixed") and "name" in schema:
            named.setdefault(schema["name"], schema)
        for f in schema.get("fields", ()):
            _named(f["type"], named)
        for key in ("items", "values"):
            if key in schema:
                _named(schema[key], named)


def values_of(schema: Any, named: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Any value an Avro schema admits: every producer could have written it."""
    if isinstance(schema, str):
        if schema in named:
            return values_of(named[schema], named, depth)
        return {
            "null": st.none(), "boolean": st.booleans(), "int": st.integers(-(2**31), 2**31 - 1),
            "long": st.integers(-(2**63), 2**63 - 1), "float": st.floats(width=32), "double": st.floats(),
            "bytes": st.binary(max_size=40), "string": st.text(max_size=40),
        }[schema]  # fmt: skip
    if isinstance(schema, list):
        return st.one_of([values_of(s, named, depth) for s in schema])
    kind = schema["type"]
    if schema.get("logicalType") in ("timestamp-millis", "timestamp-micros"):
        return st.datetimes(
            min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
        )
    if kind == "record":
        return st.fixed_dictionaries(
            {f["name"]: values_of(f["type"], named, depth + 1) for f in schema["fields"]}
        )
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(values_of(schema["items"], named, depth + 1), max_size=3 if depth < 3 else 0)
    if kind == "map":
        return st.dictionaries(
            st.text(max_size=12), values_of(schema["values"], named, depth + 1), max_size=3
        )
    if kind == "fixed":
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    return values_of(kind, named, depth)


def record_fields(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    parsed = codec.current(name).parsed
    named: dict[str, Any] = {}
    _named(parsed, named)
    return named, parsed["fields"]


@st.composite
def source_records(draw: Any, system: str) -> dict[str, Any]:
    """A valid record of the source with any of its fields replaced by any value of its type."""
    named, fields = record_fields(RAW_SCHEMAS[system])
    valid = codec.decode(RAW_SCHEMAS[system], raw_bytes(system))
    return {
        f["name"]: draw(st.one_of(st.just(valid.get(f["name"])), values_of(f["type"], named)))
        for f in fields
    }  # fmt: skip


def mutated(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` truncated, extended, or with bytes overwritten."""

    @st.composite
    def one(draw: Any) -> bytes:
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            op = draw(st.sampled_from(["flip", "cut", "insert"]))
            at = draw(st.integers(0, max(0, len(out) - 1)))
            if op == "flip" and out:
                out[at] = draw(st.integers(0, 255))
            elif op == "cut":
                del out[at:]
            else:
                out[at:at] = draw(st.binary(min_size=1, max_size=8))
        return bytes(out)

    return one()


# -- the property ---------------------------------------------------------------------------------


def engine() -> MergeEngine:
    return MergeEngine(POLICY, {}, lambda key: partition_of(key, 4))


def accepted_or_dead_letter(system: str, raw: bytes) -> None:
    """Normalise then merge: an event obeying the model, or a dead-letter reason. Nothing else."""
    try:
        event = normalise(system, raw, INGESTED)
    except NormaliseError as exc:
        assert exc.reason and exc.detail  # the dead letter says why
        return
    assert event.dossier_id and isinstance(event.status, Status)
    assert event.occurred_at.tzinfo is not None and event.ingested_at.tzinfo is not None
    merge = engine()
    step = merge.on_event(partition_of(event.dossier_id.encode(), 4), event)
    if step.rejected is None:
        merge.advance(0, datetime(2100, 1, 1, tzinfo=UTC))  # every moment of the dossier passes


@pytest.mark.parametrize("system", SOURCES)
@FUZZ
@given(data=st.data())
def test_any_record_of_a_source_schema_is_an_event_or_a_dead_letter(system: str, data: Any) -> None:
    record = data.draw(source_records(system))
    try:
        raw = codec.encode(RAW_SCHEMAS[system], record)
    except (ValueError, TypeError, OverflowError):
        return  # not writable with this schema (fastavro refuses): no producer can send it
    accepted_or_dead_letter(system, raw)


@pytest.mark.parametrize("system", SOURCES)
@FUZZ
@given(data=st.data())
def test_any_bytes_on_a_source_topic_are_an_event_or_a_dead_letter(system: str, data: Any) -> None:
    raw = data.draw(st.one_of(st.binary(max_size=300), mutated(raw_bytes(system))))
    accepted_or_dead_letter(system, raw)


EVENT = codec.encode("vn.dongbo.DossierEvent", normalise("portal", raw_bytes("portal"), INGESTED).to_record())


@FUZZ
@given(
    raw=st.one_of(st.binary(max_size=200), mutated(EVENT)),
    key=st.one_of(st.none(), st.binary(max_size=40), st.just(b"")),
)
def test_any_bytes_on_the_events_topic_decode_or_are_refused(raw: bytes, key: bytes | None) -> None:
    got = decode_event(key, raw)
    if isinstance(got, Rejected):
        assert got.reason and got.detail
    else:
        assert got.dossier_id and isinstance(got.status, Status)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), mutated(DeadLetter(
    "undecodable", "x", "normalise", "t", 0, 1, b"k", b"v", INGESTED).encode())))  # fmt: skip
def test_any_bytes_as_a_dead_letter_decode_or_raise_the_codecs_error(raw: bytes) -> None:
    try:
        letter = DeadLetter.decode(raw)
    except codec.DecodeError:
        return
    assert letter.reason is not None


@FUZZ
@given(raw=st.binary(max_size=120))
def test_any_bytes_through_the_codec_are_a_record_or_a_decode_error(raw: bytes) -> None:
    for data in (
        raw,
        codec.MARKER + raw,
        codec.MARKER + codec.current("vn.dongbo.DossierState").fingerprint + raw,
    ):
        try:
            name, rec = codec.decode_any(data)
        except codec.DecodeError as exc:
            assert exc.reason in ("undecodable", "unknown_schema", "trailing_bytes")
            continue
        assert name and isinstance(rec, dict)


# -- importers ------------------------------------------------------------------------------------

PLAUSIBLE = [
    "", "Internet", "General", "Confirmation of receipt", "complete", "2011-10-11 13:45:40+02:00",
    "2011-10-11T13:45:40.276000+02:00", "31/12/2011", "case-1", "task-1", "9999-12-31 23:59:59",
]  # fmt: skip
cells = st.one_of(st.text(max_size=30), st.sampled_from(PLAUSIBLE))
WABO_HEADER = [
    "case:channel", "case:concept:name", "case:deadline", "case:department", "case:enddate",
    "case:enddate_planned", "case:group", "case:responsible", "case:startdate", "concept:instance",
    "concept:name", "lifecycle:transition", "org:group", "org:resource", "time:timestamp",
]  # fmt: skip


def imported(path: Path, fmt: str, **job: Any) -> None:
    """Run an import: a report whose every skipped row names its reason and place, or a file error."""
    try:
        report = run_import(ImportJob(path=path, fmt=fmt, ingested_at=INGESTED, **job))
    except ImportFileError as exc:
        assert str(exc)
        return
    assert report.rows_read >= sum(report.skipped.values())
    for reason, examples in report.examples.items():
        assert reason in report.skipped and all(":" in e for e in examples)


@FUZZ
@given(
    header=st.one_of(st.just(WABO_HEADER), st.lists(st.sampled_from([*WABO_HEADER, "x", ""]), max_size=16)),
    rows=st.lists(st.lists(cells, min_size=0, max_size=17), max_size=8),
    raw_tail=st.binary(max_size=30),
)
def test_any_csv_through_a_mapping_imports_or_is_refused_with_its_row(header, rows, raw_tail) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
        with open(path, "ab") as fh:
            fh.write(raw_tail)  # bytes that are not UTF-8, a NUL, a half line
        imported(path, "csv", mapping=WABO)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
TIMES = [
    "2026-03-02T09:00:00+07:00", "2026-03-02T09:00:00", "1999-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00",
    "not a time",
]  # fmt: skip
event_objects = st.fixed_dictionaries(
    {
        "dossier_id": st.text(max_size=12), "source_event_id": st.text(max_size=8),
        "status": st.sampled_from([*(s.value for s in Status), "", "DONE"]),
        "occurred_at": st.sampled_from(TIMES),
    },
    optional={
        "source": st.sampled_from(["import", "portal", ""]), "channel": st.text(max_size=8),
        "due_at": json_values | st.sampled_from(TIMES), "overdue": json_values, "source_seq": json_values,
        "attributes": json_values, "extra": json_values,
    },
)  # fmt: skip


@FUZZ
@given(
    lines=st.lists(
        st.one_of(json_values.map(json.dumps), event_objects.map(json.dumps), st.text(max_size=40)),
        max_size=8,
    ),
    gz=st.booleans(),
)  # fmt: skip
def test_any_json_lines_import_or_are_refused_with_their_line(lines: list[str], gz: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("events.jsonl.gz" if gz else "events.jsonl")
        text = "\n".join(line.replace("\n", " ") for line in lines).encode("utf-8", "surrogatepass")
        path.write_bytes(gzip.compress(text) if gz else text)
        imported(path, "dossier-events", source="import")


XES_KEYS = ["concept:name", "time:timestamp", "lifecycle:transition", "concept:instance", "x"]
XES_TYPES = ["string", "date", "int", "boolean", "float", "list", "bogus"]
xes_events = st.lists(st.tuples(st.sampled_from(XES_KEYS), st.sampled_from(XES_TYPES), cells), max_size=5)


@FUZZ
@given(traces=st.lists(st.tuples(xes_events, st.lists(xes_events, max_size=3)), max_size=3),
       broken=st.one_of(st.none(), st.integers(0, 400)))  # fmt: skip
def test_any_xes_imports_or_is_refused(traces, broken) -> None:
    def attrs(items: list[tuple[str, str, str]]) -> str:
        return "".join(
            f'<{t} key="{k}" value="{json.dumps(v)[1:-1].replace(chr(34), "")}"/>' for k, t, v in items
        )

    body = "".join(
        f"<trace>{attrs(case)}" + "".join(f"<event>{attrs(e)}</event>" for e in events) + "</trace>"
        for case, events in traces
    )
    doc = f'<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">{body}</log>'
    if broken is not None:
        doc = doc[:broken]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.xes"
        path.write_text(doc, encoding="utf-8", errors="surrogatepass")
        imported(path, "xes", mapping=WABO)


@FUZZ
@given(
    text=st.one_of(st.text(max_size=200), json_values.map(lambda v: json.dumps({"version": 1, "columns": v})))
)
def test_any_mapping_text_is_a_mapping_or_a_mapping_error(text: str) -> None:
    try:
        parse_mapping(text, "fuzz")
    except MappingError as exc:
        assert str(exc).startswith("fuzz")


@pytest.mark.parametrize("encoding", ["UTF-7", "UTF-32", "bogus", "UTF-16"])
def test_an_xes_declaring_an_unreadable_encoding_is_a_clear_error(encoding: str, tmp_path: Path) -> None:
    # Found by the atheris harness: UTF-7 crashed the import ("multi-byte encodings are not supported").
    path = tmp_path / "log.xes"
    path.write_text(f'<?xml version="1.0" encoding="{encoding}"?><log><trace></trace></log>')
    report = run_import(ImportJob(path=path, fmt="xes", mapping=WABO, ingested_at=INGESTED))
    assert report.error is not None and "encoding" in report.error and str(path) in report.error
