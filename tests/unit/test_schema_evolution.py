"""Every schema evolves compatibly, and the checker really catches an incompatible change.

The history lives in ``schemas/avro/versions/<n>/``; each retired version must read current
records and be read by the current schema (producers and consumers upgrade independently).
"""

from __future__ import annotations

import copy
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import fastavro
import pytest

from schemas import codec, compat
from schemas.codec import AVRO_DIR

CURRENT = sorted(AVRO_DIR.glob("*.avsc"))
HISTORY = compat.history()
PAIRS = [(name, version) for name, versions in HISTORY.items() for version in versions]
RECORD_PAIRS = [(n, v) for n, v in PAIRS if compat.load(v)["type"] == "record"]


def _ids(pairs: list[tuple[str, Path]]) -> list[str]:
    return [f"{name}@{version.parent.name}" for name, version in pairs]


def _current(name: str) -> Any:
    return compat.load(AVRO_DIR / f"{name}.avsc")


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


# --- the files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CURRENT, ids=[p.stem for p in CURRENT])
def test_every_current_schema_has_a_doc_and_a_namespace(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert str(raw.get("doc", "")).strip(), f"{path.name} has no doc"
    namespace = raw.get("namespace") or raw["name"].rpartition(".")[0]
    assert namespace.startswith("vn.dongbo"), f"{path.name} is not in the vn.dongbo namespace"
    assert f"{namespace}.{raw['name'].rpartition('.')[2]}" == path.stem, "file name must be the full name"


SOURCE_SCHEMAS = [p for p in CURRENT if p.stem.startswith("vn.dongbo.src.")]


@pytest.mark.parametrize("path", SOURCE_SCHEMAS, ids=[p.stem for p in SOURCE_SCHEMAS])
def test_source_schema_fields_are_documented(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    undocumented = [f["name"] for f in raw["fields"] if not str(f.get("doc", "")).strip()]
    assert undocumented == []


def test_every_source_system_has_a_schema() -> None:
    from contract.sources import RAW_SCHEMAS

    for system, name in RAW_SCHEMAS.items():
        assert (AVRO_DIR / f"{name}.avsc").exists(), system
        if system != "import":
            assert name.startswith(f"vn.dongbo.src.{system}."), "a source writes in its own namespace"


def test_source_records_have_distinct_short_names() -> None:
    # codec.decode accepts a writer whose short name matches the reader's (across namespaces), so
    # two sources sharing a short name could be misread as each other instead of dead-lettered.
    shorts = [p.stem.rsplit(".", 1)[1] for p in SOURCE_SCHEMAS]
    assert len(shorts) == len(set(shorts))


def test_every_retired_version_belongs_to_a_current_schema() -> None:
    orphans = [name for name in HISTORY if not (AVRO_DIR / f"{name}.avsc").exists()]
    assert orphans == []


def test_the_history_is_not_empty() -> None:
    # Each family shipped so far has a retired version 1; a new schema may start without one.
    assert {name for name, _ in PAIRS} >= {
        "vn.dongbo.Status",
        "vn.dongbo.Channel",
        "vn.dongbo.DossierEvent",
        "vn.dongbo.DossierState",
        "vn.dongbo.DeadLetter",
        *(p.stem for p in SOURCE_SCHEMAS),
    }


# --- compatible both ways ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "version"), PAIRS, ids=_ids(PAIRS))
def test_retired_version_and_current_read_each_other(name: str, version: Path) -> None:
    assert compat.check_compatible(version, AVRO_DIR / f"{name}.avsc") == []


@pytest.mark.parametrize("path", CURRENT, ids=[p.stem for p in CURRENT])
def test_current_schema_reads_itself(path: Path) -> None:
    # Also proves the sample generator can produce valid records for every schema we have.
    assert compat.check_compatible(path, path) == []


def test_check_history_finds_nothing() -> None:
    assert compat.check_history() == {}


@pytest.mark.parametrize(("name", "version"), RECORD_PAIRS, ids=_ids(RECORD_PAIRS))
def test_codec_reads_records_written_by_a_retired_version(name: str, version: Path) -> None:
    old = codec._load(version)
    new_fields = {f["name"]: f for f in codec.current(name).parsed["fields"]}
    added = set(new_fields) - {f["name"] for f in old.parsed["fields"]}
    assert added, "a retired version should differ from the current one"
    for sample in compat.samples(old.parsed):
        buf = io.BytesIO()
        buf.write(codec.MARKER + old.fingerprint)
        fastavro.schemaless_writer(buf, old.parsed, sample)
        decoded = codec.decode(name, buf.getvalue())
        for field in added:
            assert decoded[field] == new_fields[field]["default"]


# --- the checker catches what it must --------------------------------------------------------------


@pytest.mark.parametrize(("name", "version"), RECORD_PAIRS, ids=_ids(RECORD_PAIRS))
def test_removing_the_default_of_an_added_field_is_incompatible(name: str, version: Path) -> None:
    current = _current(name)
    old_names = {f["name"] for f in compat.load(version)["fields"]}
    broken = copy.deepcopy(current)
    for field in broken["fields"]:
        if field["name"] not in old_names:
            del field["default"]
    problems = compat.check_compatible(version, broken)
    assert problems and all("No default value" in p for p in problems), problems


@pytest.mark.parametrize("path", [p for p in CURRENT if compat.load(p)["type"] == "record"])
def test_changing_a_field_type_is_incompatible(path: Path) -> None:
    current = compat.load(path)
    broken = copy.deepcopy(current)
    field = broken["fields"][0]
    field["type"] = "int" if field["type"] != "int" else "string"
    assert compat.check_compatible(current, broken) != []


def test_adding_a_field_without_default_is_incompatible() -> None:
    current = _current("vn.dongbo.src.portal.HoSoEvent")
    grown = copy.deepcopy(current)
    grown["fields"].append({"name": "MaDinhDanh", "type": "string"})
    problems = compat.check_compatible(current, grown)
    assert any("new schema cannot read old records" in p for p in problems)
    assert not any("old schema cannot read new records" in p for p in problems)  # old ignores it


def test_widening_int_to_long_is_only_backward_compatible() -> None:
    current = _current("vn.dongbo.src.onestop.WorkflowStepEvent")
    widened = copy.deepcopy(current)
    _field(widened, "stepSeq")["type"] = "long"
    problems = compat.check_compatible(current, widened)
    assert problems and all("old schema cannot read new records" in p for p in problems)


def test_removing_an_enum_symbol_without_a_default_is_incompatible() -> None:
    current = _current("vn.dongbo.Status")
    shrunk = copy.deepcopy(current)
    shrunk["symbols"].remove("CANCELLED")
    problems = compat.check_compatible(current, shrunk)
    assert any("CANCELLED" in p for p in problems)


def test_a_new_enum_symbol_is_fine_when_the_enum_has_a_default() -> None:
    current = _current("vn.dongbo.Channel")
    grown = copy.deepcopy(current)
    grown["symbols"].append("KIOSK")
    assert compat.check_compatible(current, grown) == []
    grown.pop("default")
    current.pop("default")
    assert compat.check_compatible(current, grown) != []


def test_renaming_a_record_is_incompatible() -> None:
    current = _current("vn.dongbo.src.civil.HoTichEvent")
    renamed = copy.deepcopy(current)
    renamed["name"] = "vn.dongbo.src.civil.HoTichChangeEvent"
    assert compat.check_compatible(current, renamed) != []


def test_changing_a_nested_record_field_is_caught() -> None:
    current = _current("vn.dongbo.src.portal.HoSoEvent")
    broken = copy.deepcopy(current)
    document = _field(broken, "DanhSachGiayTo")["type"]["items"]
    _field(document, "DuocSoHoa").update(type="string", default="0")
    assert compat.check_compatible(current, broken) != []


# --- the samples -----------------------------------------------------------------------------------


def test_samples_cover_every_enum_symbol_and_union_branch() -> None:
    state = _current("vn.dongbo.DossierState")
    samples = list(compat.samples(state))
    assert {s["status"] for s in samples} == {None, *codec.current("vn.dongbo.Status").parsed["symbols"]}
    assert {s["channel"] for s in samples} == {"COUNTER", "ONLINE", "POSTAL", "UNKNOWN"}
    assert any(s["sources"] for s in samples), "some sample has a non-empty map"


def test_samples_are_deterministic() -> None:
    schema = _current("vn.dongbo.src.portal.HoSoEvent")
    assert list(compat.samples(schema)) == list(compat.samples(schema))


# --- DossierEvent version 2: the typed moments were attribute strings --------------------------------

VN = timezone(timedelta(hours=7))
RECEIVED = datetime(2025, 11, 25, 9, 15, tzinfo=VN)
TYPED = {
    "stated_received_at": RECEIVED,
    "stated_ended_at": RECEIVED + timedelta(days=3),
    "stated_supplement_requested_at": RECEIVED + timedelta(hours=2),
    "stated_supplement_received_at": RECEIVED + timedelta(days=1),
    "extended_due_at": RECEIVED + timedelta(days=5),
    "complex_case": True,
}
LEGACY = {
    "received_at": "2025-11-25T09:15:00+07:00",
    "processing_ended_at": "2025-11-28T09:15:00+07:00",
    "supplement_requested_at": "2025-11-25T11:15:00+07:00",
    "supplement_received_at": "2025-11-26T09:15:00+07:00",
    "extension_new_due_at": "2025-11-30T09:15:00+07:00",
    "complex_case": "true",
}
VERSION_2 = AVRO_DIR / "versions" / "2" / "vn.dongbo.DossierEvent.avsc"


def _event(**typed: Any) -> Any:
    from streams.model import DossierEvent, Status

    return DossierEvent(
        dossier_id="000.00.15.H17-251125-0001", source="portal", source_event_id="ps-9",
        status=Status.RETURNED, occurred_at=RECEIVED + timedelta(days=3, hours=2),
        ingested_at=RECEIVED + timedelta(days=3, hours=2, seconds=5), procedure_code="1.001193",
        attributes={"documents_total": "3"}, **typed,
    )  # fmt: skip


def _written_by_version_2(attributes: dict[str, str]) -> bytes:
    """A DossierEvent as a producer of version 2 wrote it: no typed fields, only attributes."""
    old = codec._load(VERSION_2)
    names = {f["name"] for f in old.parsed["fields"]}
    record = {k: v for k, v in _event().to_record().items() if k in names}
    buf = io.BytesIO()
    buf.write(codec.MARKER + old.fingerprint)
    record["attributes"] = {**record["attributes"], **attributes}
    fastavro.schemaless_writer(buf, old.parsed, record)
    return buf.getvalue()


def test_the_legacy_attribute_keys_are_the_typed_fields_of_the_schema() -> None:
    from streams.model import LEGACY_ATTRIBUTES

    assert set(LEGACY) == set(LEGACY_ATTRIBUTES) and set(TYPED) == set(LEGACY_ATTRIBUTES.values())
    current = {f["name"]: f for f in codec.current("vn.dongbo.DossierEvent").parsed["fields"]}
    retired = {f["name"] for f in codec._load(VERSION_2).parsed["fields"]}
    assert set(current) - retired == set(TYPED)
    for name in TYPED:
        assert current[name]["default"] is None and current[name]["doc"].strip()


def test_a_version_2_record_with_legacy_attributes_reads_as_the_typed_event() -> None:
    from streams.model import DossierEvent

    old = DossierEvent.from_record(codec.decode("vn.dongbo.DossierEvent", _written_by_version_2(LEGACY)))
    data = codec.encode("vn.dongbo.DossierEvent", _event(**TYPED).to_record())
    new = DossierEvent.from_record(codec.decode("vn.dongbo.DossierEvent", data))
    assert old == new == _event(**TYPED)
    assert old.attributes == {"documents_total": "3"}, "the legacy keys leave the attributes"
    # And it is merged the same: the history entry is built from the typed fields alone.
    from streams.state import HistoryEntry

    assert HistoryEntry.of_event(old) == HistoryEntry.of_event(new)
    entry = HistoryEntry.of_event(old)
    assert (entry.stated_pause_start, entry.stated_pause_end) == (
        TYPED["stated_supplement_requested_at"], TYPED["stated_supplement_received_at"],
    )  # fmt: skip


def test_a_version_2_record_without_them_reads_with_the_typed_fields_null() -> None:
    from streams.model import DossierEvent

    event = DossierEvent.from_record(codec.decode("vn.dongbo.DossierEvent", _written_by_version_2({})))
    assert event == _event()
    assert all(getattr(event, name) is None for name in TYPED)


def test_a_typed_field_wins_over_its_legacy_attribute() -> None:
    from streams.model import DossierEvent

    later = LEGACY["processing_ended_at"]
    record = {**_event(stated_received_at=RECEIVED).to_record(), "attributes": {"received_at": later}}
    event = DossierEvent.from_record(record)
    assert event.stated_received_at == RECEIVED and event.attributes == {}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("received_at", "25/11/2025 09:15:00"),
        ("processing_ended_at", "2025-11-28T09:15:00"),  # no offset
        ("supplement_requested_at", ""),
        ("supplement_received_at", "yesterday"),
        ("extension_new_due_at", "2025-13-01T00:00:00+07:00"),
        ("complex_case", "yes"),
        ("complex_case", ""),
    ],
)
def test_a_malformed_legacy_attribute_is_dead_lettered_not_dropped(key: str, value: str) -> None:
    from streams.agents.merge import Rejected, decode_event
    from streams.model import DossierEvent

    data = _written_by_version_2({key: value})
    with pytest.raises(ValueError, match=key):
        DossierEvent.from_record(codec.decode("vn.dongbo.DossierEvent", data))
    rejected = decode_event(b"000.00.15.H17-251125-0001", data)
    assert isinstance(rejected, Rejected) and key in rejected.detail
    # Even beside a typed value that would win, a malformed legacy value is not silently dropped.
    record = {**_event(**TYPED).to_record(), "attributes": {key: value}}
    with pytest.raises(ValueError, match=key):
        DossierEvent.from_record(record)


def test_stated_times_must_carry_their_offset() -> None:
    for name in TYPED:
        if name != "complex_case":
            with pytest.raises(ValueError, match=name):
                _event(**{name: datetime(2025, 11, 25, 9, 15)})
