"""The one codec every component reads and writes records through.

Records are framed with Avro's *single-object encoding* (spec 1.9+): the two marker bytes
``C3 01``, the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema, then the
schemaless Avro body. The reader finds the writer schema by its fingerprint among every schema
this codebase knows (current ones in ``schemas/avro/`` and retired versions in
``schemas/avro/versions/``) and resolves it to the reader's current schema, so a record written
by an older or newer producer is still read. No schema registry is needed; each message names its
own schema exactly.
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
    fingerprint: bytes


def _fingerprint(parsed: Any) -> bytes:
    hexdigest = fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO")
    # fastavro renders the 64-bit value big-endian in hex; the spec frames it little-endian.
    return bytes.fromhex(hexdigest)[::-1]


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
    """Every schema version this codebase can read, by fingerprint."""
    known: dict[bytes, Schema] = {}
    for path in sorted(AVRO_DIR.glob("*.avsc")) + sorted((AVRO_DIR / "versions").glob("*/*.avsc")):
        try:
            # A retired version lives in versions/<n>/ with the named types it used beside it.
            schema = _load(path)
        except Exception as exc:
            raise RuntimeError(f"schema file {path} does not parse: {exc}") from exc
        if schema.parsed.get("type") == "record":
            known[schema.fingerprint] = schema
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
        fp = struct.unpack("<Q", data[2:HEADER_LEN])[0]
        raise DecodeError("unknown_schema", f"writer schema fingerprint {fp:016x} is not known here")
    return schema


def decode(name: str, data: bytes) -> dict[str, Any]:
    """Decode a record written with any known version, resolved to the current ``name`` schema."""
    writer = writer_schema_of(data)
    reader = current(name)
    if writer.name != reader.name and writer.name.rsplit(".", 1)[-1] != reader.name.rsplit(".", 1)[-1]:
        raise DecodeError("unexpected_record", f"expected {name}, got {writer.name}")
    try:
        return fastavro.schemaless_reader(io.BytesIO(data[HEADER_LEN:]), writer.parsed, reader.parsed)  # type: ignore[return-value]
    except Exception as exc:
        raise DecodeError("undecodable", f"{type(exc).__name__}: {exc}") from exc


def decode_any(data: bytes) -> tuple[str, dict[str, Any]]:
    """Decode with the writer's own schema; returns (full schema name, record)."""
    writer = writer_schema_of(data)
    try:
        rec = fastavro.schemaless_reader(io.BytesIO(data[HEADER_LEN:]), writer.parsed, None)
    except Exception as exc:
        raise DecodeError("undecodable", f"{type(exc).__name__}: {exc}") from exc
    return writer.name, rec  # type: ignore[return-value]


def schema_json(name: str) -> str:
    return json.dumps(current(name).parsed, indent=2)
