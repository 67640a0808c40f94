"""The codec frames records as Avro's single-object encoding says, checked against Apache Avro itself.

Single-object encoding (Avro spec 1.9+): ``C3 01``, the 8-byte little-endian CRC-64-AVRO
fingerprint of the writer schema's Parsing Canonical Form, then the binary body. The reference
here is the Apache ``avro`` Python package (a dev dependency); it has no single-object decoder, so
the spec's steps are done by hand with its own fingerprint, ``DatumReader`` and ``DatumWriter``.

One quirk of the reference, worked around in ``reference_fingerprint``: avro (Python, 1.12) keeps
``{"type": "long"}`` in its canonical form for a primitive that carried a ``logicalType``, where
the spec ([PRIMITIVES], [STRIP]), Java's ``SchemaNormalization`` and fastavro write ``"long"``; so
its ``Schema.fingerprint()`` differs from every other implementation's for a schema with a
timestamp in it. Schemas without logical types need no such help (checked below).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import avro.io
import avro.schema
import fastavro
import pytest

from schemas import codec
from schemas.codec import AVRO_DIR
from streams.model import Channel, DossierEvent, Status

RECORD_NAMES = [
    p.stem for p in sorted(AVRO_DIR.glob("*.avsc")) if codec.current(p.stem).parsed.get("type") == "record"
]
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}

# What a spec-following encoder writes before a DossierEvent body (version 3; version 2, checked
# against Apache Avro's Java BinaryMessageEncoder 1.12.0, was c3 01 3e b1 e3 b2 4c f0 26 68).
DOSSIER_EVENT_HEADER = bytes.fromhex("c3 01 db c8 81 13 be 1a a1 ea")


# --- the reference implementation -------------------------------------------------------------


def reference_schema(name: str) -> avro.schema.Schema:
    """The schema as dongbo publishes it for outside readers, parsed by avro."""
    published = codec.schema_json(name)
    assert "__fastavro" not in published, "only Avro, nothing of fastavro's own"
    return avro.schema.parse(published)


def _spec_primitives(node: Any) -> Any:
    if isinstance(node, dict):
        if set(node) == {"type"} and node["type"] in _PRIMITIVES:
            return node["type"]
        return {key: _spec_primitives(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_spec_primitives(value) for value in node]
    return node


def reference_fingerprint(schema: avro.schema.Schema) -> bytes:
    """avro's own CRC-64-AVRO fingerprint of the schema's canonical form, as the spec defines it.

    avro's canonical form, with its one deviation undone ({"type": "long"} → "long"), parsed by
    avro again and fingerprinted by avro: the bytes are avro's (little-endian, as Java's).
    """
    canonical = json.dumps(_spec_primitives(json.loads(schema.canonical_form)), separators=(",", ":"))
    return avro.schema.parse(canonical).fingerprint("CRC-64-AVRO")


def reference_read(schema: avro.schema.Schema, data: bytes) -> Any:
    """A single-object record read the way the spec says, by the reference implementation."""
    assert data[:2] == b"\xc3\x01", "single-object marker"
    assert data[2:10] == reference_fingerprint(schema), "writer schema fingerprint"
    body = io.BytesIO(data[10:])
    record = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(body))
    assert body.tell() == len(data) - 10, "the body is exactly one record"
    return record


def reference_write(schema: avro.schema.Schema, record: dict[str, Any]) -> bytes:
    """A single-object record written the way the spec says, by the reference implementation."""
    out = io.BytesIO()
    out.write(b"\xc3\x01" + reference_fingerprint(schema))
    avro.io.DatumWriter(schema).write(record, avro.io.BinaryEncoder(out))
    return out.getvalue()


# --- records ------------------------------------------------------------------------------------

VN = timezone(timedelta(hours=7))


def dossier_event() -> DossierEvent:
    return DossierEvent(
        dossier_id="000.00.15.H17-251125-0001",
        source="portal",
        source_event_id="ps-1",
        status=Status.SUPPLEMENT_REQUESTED,
        occurred_at=datetime(2025, 11, 25, 9, 15, 0, 123000, tzinfo=VN),
        ingested_at=datetime(2025, 11, 25, 2, 16, tzinfo=UTC),
        source_seq=3,
        source_status="5",
        recorded_at=datetime(2025, 11, 25, 2, 15, 30, tzinfo=UTC),
        procedure_code="1.001234",
        unit_code="000.00.15.H17",
        channel=Channel.POSTAL,
        due_at=datetime(2025, 11, 28, 17, 0, tzinfo=VN),
        overdue=False,
        applicant_ref="hmac:4f1c",
        attributes={"supplement_count": "1", "ghi_chú": "bổ sung giấy tờ"},
    )


def portal_record() -> dict[str, Any]:
    """A HoSoEvent (no logical types in its schema), every optional field set."""
    return {
        "MaSuKien": "ps-1",
        "SoThuTu": 3,
        "ThoiDiemThayDoi": "20251125091500",
        "MaHoSo": "000.00.15.H17-251125-0001",
        "MaTTHC": "1.001234",
        "TenTTHC": "Đăng ký khai sinh",
        "MaLinhVuc": "HT",
        "ChuHoSo": "hmac:4f1c",
        "NgayTiepNhan": "20251125080000",
        "NgayHenTra": "20251128170000",
        "TrangThaiHoSo": 5,
        "NgayKetThucXuLy": None,
        "NgayTra": None,
        "DonViXuLy": "000.00.15.H17",
        "KenhThucHien": 3,
        "DuocThanhToanTrucTuyen": 0,
        "DanhSachGiayTo": [{"MaGiayTo": "GT-1", "DuocSoHoa": 1, "DuocLayTuKhoDMQG": 0}],
        "DanhSachTepKetQua": [{"TenTep": "ket-qua.pdf", "DuocKySo": 1}],
        "DanhSachHoSoBoSung": [
            {
                "NgayYeuCau": "20251125091500",
                "NgayTiepNhanBoSung": None,
                "NgayHenTraTruoc": "20251128170000",
                "NgayHenTraMoi": None,
            }
        ],
        "DanhSachPhieuXinLoi": [],
    }


DOSSIER_EVENT = "vn.dongbo.DossierEvent"
PORTAL = "vn.dongbo.src.portal.HoSoEvent"


def samples() -> list[tuple[str, dict[str, Any]]]:
    return [(DOSSIER_EVENT, dossier_event().to_record()), (PORTAL, portal_record())]


def legacy(data: bytes) -> bytes:
    """The same record framed as dongbo framed it before: the fingerprint bytes reversed."""
    return data[:2] + data[2:10][::-1] + data[10:]


# --- the fingerprint ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", RECORD_NAMES)
def test_every_fingerprint_is_the_reference_implementations(name: str) -> None:
    assert codec.current(name).fingerprint == reference_fingerprint(reference_schema(name))


def test_without_logical_types_the_reference_fingerprint_is_used_as_is() -> None:
    schema = reference_schema(PORTAL)
    assert codec.encode(PORTAL, portal_record())[2:10] == schema.fingerprint("CRC-64-AVRO")


def test_a_dossier_event_is_framed_as_apache_avro_frames_it() -> None:
    data = codec.encode(DOSSIER_EVENT, dossier_event().to_record())
    assert data[:10] == DOSSIER_EVENT_HEADER
    # Little-endian: the first byte is the lowest of the 64-bit CRC-64-AVRO value.
    assert int.from_bytes(data[2:10], "little") == 0xEAA11ABE1381C8DB


# --- (a) dongbo writes, the reference reads -----------------------------------------------------


@pytest.mark.parametrize(("name", "record"), samples(), ids=[DOSSIER_EVENT, PORTAL])
def test_the_reference_implementation_reads_what_dongbo_writes(name: str, record: dict[str, Any]) -> None:
    read = reference_read(reference_schema(name), codec.encode(name, record))
    assert read == record


def test_a_dossier_event_read_by_the_reference_is_the_same_event() -> None:
    event = dossier_event()
    read = reference_read(reference_schema(DOSSIER_EVENT), codec.encode(DOSSIER_EVENT, event.to_record()))
    assert DossierEvent.from_record(read) == event


# --- (b) the reference writes, dongbo reads -----------------------------------------------------


@pytest.mark.parametrize(("name", "record"), samples(), ids=[DOSSIER_EVENT, PORTAL])
def test_dongbo_reads_what_the_reference_implementation_writes(name: str, record: dict[str, Any]) -> None:
    data = reference_write(reference_schema(name), record)
    assert data == codec.encode(name, record)  # byte for byte the same framing and body
    assert codec.decode(name, data) == record
    assert codec.decode_any(data) == (name, record)


def test_a_dossier_event_from_the_reference_is_the_same_event() -> None:
    event = dossier_event()
    data = reference_write(reference_schema(DOSSIER_EVENT), event.to_record())
    assert DossierEvent.from_record(codec.decode(DOSSIER_EVENT, data)) == event


# --- (c) records framed the old way are still read ----------------------------------------------


@pytest.mark.parametrize(("name", "record"), samples(), ids=[DOSSIER_EVENT, PORTAL])
def test_a_record_with_the_legacy_reversed_fingerprint_is_read(name: str, record: dict[str, Any]) -> None:
    old = legacy(codec.encode(name, record))
    assert old[:10] != codec.encode(name, record)[:10]
    assert codec.decode(name, old) == record
    assert codec.decode_any(old) == (name, record)


def test_a_legacy_dossier_event_is_the_same_event() -> None:
    # Written before the byte-order fix, so by DossierEvent version 2 (schemas/avro/versions/2).
    event = dossier_event()
    v2 = codec._load(AVRO_DIR / "versions" / "2" / f"{DOSSIER_EVENT}.avsc")
    fields = {f["name"] for f in v2.parsed["fields"]}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, v2.parsed, {k: v for k, v in event.to_record().items() if k in fields})
    old = bytes.fromhex("c3 01 68 26 f0 4c b2 e3 b1 3e") + body.getvalue()
    assert DossierEvent.from_record(codec.decode(DOSSIER_EVENT, old)) == event


@pytest.mark.parametrize("name", RECORD_NAMES)
def test_both_byte_orders_name_the_same_schema(name: str) -> None:
    fp = codec.current(name).fingerprint
    spec = codec.writer_schema_of(codec.MARKER + fp)
    old = codec.writer_schema_of(codec.MARKER + fp[::-1])
    assert spec is old and spec.name == name and spec.fingerprint == fp


def test_a_retired_version_is_read_in_both_byte_orders() -> None:
    # versions/1 DossierEvent, written by an old producer: found by either order.
    current = codec.current(DOSSIER_EVENT)
    retired = {s.fingerprint: s for s in codec._known().values() if s.name == DOSSIER_EVENT and s != current}
    assert retired
    for schema in retired.values():
        assert codec.writer_schema_of(codec.MARKER + schema.fingerprint) is schema
        assert codec.writer_schema_of(codec.MARKER + schema.fingerprint[::-1]) is schema


# --- (d) an unknown fingerprint -----------------------------------------------------------------


def test_an_unknown_fingerprint_is_unknown_schema() -> None:
    body = codec.encode(DOSSIER_EVENT, dossier_event().to_record())[10:]
    unknown = codec.MARKER + bytes.fromhex("0102030405060708") + body
    for decode in (lambda d: codec.decode(DOSSIER_EVENT, d), codec.decode_any):
        with pytest.raises(codec.DecodeError) as info:
            decode(unknown)
        assert info.value.reason == "unknown_schema"
        # The CRC-64-AVRO value as the spec defines it (bytes little-endian), and the bytes as framed.
        assert "0x0807060504030201" in info.value.detail
        assert "01 02 03 04 05 06 07 08" in info.value.detail


def test_not_single_object_bytes_are_undecodable() -> None:
    for data in (b"", b"\xc3", b"\xc3\x01\x00", b"\x00" * 20, b"{}"):
        with pytest.raises(codec.DecodeError) as info:
            codec.decode_any(data)
        assert info.value.reason == "undecodable"


# --- trailing bytes -----------------------------------------------------------------------------


@pytest.mark.parametrize("junk", [b"\x00", b"\x02", b"junk!"])
@pytest.mark.parametrize("frame", [lambda d: d, legacy], ids=["spec", "legacy"])
def test_trailing_bytes_are_rejected(junk: bytes, frame: Any) -> None:
    data = frame(codec.encode(DOSSIER_EVENT, dossier_event().to_record())) + junk
    expected = f"{len(junk)} bytes after the end of the {DOSSIER_EVENT} record"
    with pytest.raises(codec.DecodeError) as info:
        codec.decode(DOSSIER_EVENT, data)
    assert (info.value.reason, info.value.detail) == ("trailing_bytes", expected)
    with pytest.raises(codec.DecodeError) as info:
        codec.decode_any(data)
    assert (info.value.reason, info.value.detail) == ("trailing_bytes", expected)


def test_trailing_bytes_after_a_record_of_a_retired_version() -> None:
    # Resolving to the reader's schema does not change where the writer's record ends.
    old = next(s for s in codec._known().values() if s.name == PORTAL and s != codec.current(PORTAL))
    out = io.BytesIO()
    out.write(codec.MARKER + old.fingerprint)
    fastavro.schemaless_writer(out, old.parsed, portal_record())
    data = out.getvalue()
    assert codec.decode(PORTAL, data)["MaHoSo"] == "000.00.15.H17-251125-0001"
    for decode in (lambda d: codec.decode(PORTAL, d), codec.decode_any):
        with pytest.raises(codec.DecodeError) as info:
            decode(data + b"\x00\x00")
        assert info.value.reason == "trailing_bytes"
        assert info.value.detail == f"2 bytes after the end of the {PORTAL} record"


def test_a_truncated_record_is_still_undecodable() -> None:
    data = codec.encode(DOSSIER_EVENT, dossier_event().to_record())
    with pytest.raises(codec.DecodeError) as info:
        codec.decode(DOSSIER_EVENT, data[:-3])
    assert info.value.reason == "undecodable"


def test_trailing_bytes_go_to_the_dead_letters() -> None:
    from streams.agents.merge import Rejected, decode_event
    from streams.normalise import NormaliseError, normalise

    event = codec.encode(DOSSIER_EVENT, dossier_event().to_record()) + b"\x00"
    rejected = decode_event(b"000.00.15.H17-251125-0001", event)
    assert isinstance(rejected, Rejected) and rejected.reason == "trailing_bytes"
    # The normalise stage files it under the same reason.
    ingested = datetime(2025, 11, 25, 3, 0, tzinfo=UTC)
    assert normalise("portal", codec.encode(PORTAL, portal_record()), ingested).source == "portal"
    with pytest.raises(NormaliseError) as info:
        normalise("portal", codec.encode(PORTAL, portal_record()) + b"\x00", ingested)
    assert info.value.reason == "trailing_bytes"
    assert "1 bytes after the end" in info.value.detail
