"""The one codec every component reads and writes records through.

Records are framed with Avro's *single-object encoding* (spec 1.9+): the two marker bytes
``C3 01``, the 8-byte CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form, then
the schemaless Avro body. The reader finds the writer schema by its fingerprint among every schema
this codebase knows (current ones in ``schemas/avro/`` and retired versions in
``schemas/avro/versions/``) and resolves it to the reader's current schema, so a record written
by an older or newer producer is still read. No schema registry is needed; each message names its
own schema exactly.

Fingerprint byte order. dongbo *writes* the fingerprint little-endian (lowest byte of the 64-bit
value first), as the spec says and as Apache Avro's Java ``BinaryMessageEncoder`` frames it
(DossierEvent: ``C3 01 3E B1 E3 B2 4C F0 26 68``), so any spec-following library can read
dongbo's topics. fastavro's hex fingerprint is already in that order. Earlier versions of this
module reversed those bytes (taking fastavro's hex for big-endian), so records already on the
topics, compacted state included, carry the fingerprint byte-reversed. The reader therefore
*accepts both orders*: each known schema is listed under both, so those records stay readable.

A record must end where its body ends: bytes after the body are rejected (``trailing_bytes``),
not silently ignored. See ``docs/schemas.md`` for reading dongbo's topics outside dongbo.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

AVRO_DIR = Path(__file__).resolve().parent / "avro"
MARKER = b"\xc3\x01"
HEADER_LEN = 10


class DecodeError(ValueError):
    """Bytes that are not a record this codebase can read. ``reason`` is a stable code for the DLQ."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Schema:
    name: str  # full name, e.g. vn.dongbo.DossierEvent
    parsed: Any
    fingerprint: bytes  # CRC-64-AVRO, the 8 bytes as framed (little-endian, as the spec says)


def _fingerprint(parsed: Any) -> bytes:
    # fastavro's hex digest is already the spec's little-endian byte order (the lowest byte of the
    # 64-bit value first), the order Apache Avro's own encoders frame records with: keep it as is.
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))


def _describe(fp: bytes) -> str:
    """A framed fingerprint as the spec defines it: the 64-bit CRC-64-AVRO value (and the bytes)."""
    return f"{struct.unpack('<Q', fp)[0]:#018x} (framed as {fp.hex(' ')})"


def _load(path: Path) -> Schema:
    parsed: dict[str, Any] = load_schema(str(path), _write_hint=False)  # type: ignore[assignment]
    name = parsed["name"] if "." in parsed["name"] else f"{parsed.get('namespace', '')}.{parsed['name']}"
    fp = _fingerprint(parsed)
    # Parse once more with fastavro's hint, so that writers and readers do not re-parse the schema
    # on every record (that was ~45 µs of every encode).
    return Schema(name=name, parsed=fastavro.parse_schema(parsed), fingerprint=fp)


@cache
def current(name: str) -> Schema:
    """The current schema of a record, by its full name (``vn.dongbo.DossierEvent``)."""
    path = AVRO_DIR / f"{name}.avsc"
    if not path.exists():
        raise KeyError(f"no schema {name!r} in {AVRO_DIR}")
    return _load(path)


@cache
def _known() -> dict[bytes, Schema]:
    """Every schema version this codebase can read, by framed fingerprint, in both byte orders.

    The spec's order is what dongbo writes; the byte-reversed one is what it wrote before (see the
    module docstring), still on the topics. Both keys lead to the same schema.
    """
    schemas: list[Schema] = []
    for path in sorted(AVRO_DIR.glob("*.avsc")) + sorted((AVRO_DIR / "versions").glob("*/*.avsc")):
        try:
            # A retired version lives in versions/<n>/ with the named types it used beside it.
            schema = _load(path)
        except Exception as exc:
            raise RuntimeError(f"schema file {path} does not parse: {exc}") from exc
        if schema.parsed.get("type") == "record":
            schemas.append(schema)
    known = {schema.fingerprint: schema for schema in schemas}
    for schema in schemas:
        legacy = schema.fingerprint[::-1]
        taken = known.setdefault(legacy, schema)
        if taken.fingerprint != schema.fingerprint:
            # Never seen (2^-64), but it would make a record's schema ambiguous: refuse to guess.
            raise RuntimeError(
                f"the legacy (byte-reversed) fingerprint of {schema.name} is the fingerprint of "
                f"{taken.name}: the two cannot both be read"
            )
    return known


def encode(name: str, record: dict[str, Any]) -> bytes:
    schema = current(name)
    buf = io.BytesIO()
    buf.write(MARKER)
    buf.write(schema.fingerprint)
    fastavro.schemaless_writer(buf, schema.parsed, record)
    return buf.getvalue()


def writer_schema_of(data: bytes) -> Schema:
    if len(data) < HEADER_LEN or data[:2] != MARKER:
        raise DecodeError("undecodable", "not an Avro single-object record (missing C3 01 marker)")
    schema = _known().get(data[2:HEADER_LEN])
    if schema is None:
        raise DecodeError(
            "unknown_schema",
            f"writer schema CRC-64-AVRO fingerprint {_describe(data[2:HEADER_LEN])} is not known here",
        )
    return schema


def _read(data: bytes, writer: Schema, reader: Schema | None) -> dict[str, Any]:
    """The body after the header, which must be exactly one record of the writer schema."""
    body = io.BytesIO(data)
    body.seek(HEADER_LEN)
    try:
        rec = fastavro.schemaless_reader(body, writer.parsed, None if reader is None else reader.parsed)
    except Exception as exc:
        raise DecodeError("undecodable", f"{type(exc).__name__}: {exc}") from exc
    extra = len(data) - body.tell()
    if extra:
        raise DecodeError("trailing_bytes", f"{extra} bytes after the end of the {writer.name} record")
    return rec  # type: ignore[return-value]


def decode(name: str, data: bytes) -> dict[str, Any]:
    """Decode a record written with any known version, resolved to the current ``name`` schema."""
    writer = writer_schema_of(data)
    reader = current(name)
    if writer.name != reader.name and writer.name.rsplit(".", 1)[-1] != reader.name.rsplit(".", 1)[-1]:
        raise DecodeError("unexpected_record", f"expected {name}, got {writer.name}")
    # Written with the current schema (the usual case): nothing to resolve, and fastavro's
    # resolution costs as much again as the read.
    return _read(data, writer, None if writer.fingerprint == reader.fingerprint else reader)


def decode_any(data: bytes) -> tuple[str, dict[str, Any]]:
    """Decode with the writer's own schema; returns (full schema name, record)."""
    writer = writer_schema_of(data)
    return writer.name, _read(data, writer, None)


def schema_json(name: str) -> str:
    """The current schema of ``name`` as one self-contained JSON document, for readers outside dongbo.

    The named types it uses (``vn.dongbo.Status``, ...) live in files of their own; here they are
    inlined, so any Avro library parses the document alone, and its CRC-64-AVRO fingerprint is the
    one dongbo frames ``name`` records with.
    """
    path = AVRO_DIR / f"{name}.avsc"
    if not path.exists():
        raise KeyError(f"no schema {name!r} in {AVRO_DIR}")
    return json.dumps(load_schema(str(path), _write_hint=False), indent=2, ensure_ascii=False)
