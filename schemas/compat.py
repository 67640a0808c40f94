"""Schema compatibility, checked by trying it: write samples with one schema, read with the other.

fastavro has no compatibility checker, and a rule-by-rule reimplementation of the Avro spec would be
a second opinion that can drift from the resolver that actually runs in production. So
``check_compatible`` generates representative records from each schema and runs fastavro's own
schema resolution both ways: the new schema must read what the old one wrote (consumers upgraded
first) and the old one must read what the new one writes (producers upgraded first).

The samples are deterministic and systematic rather than random: sample *k* takes branch
``k mod n`` of a union and passes ``k div n`` to the chosen branch, takes symbol ``k mod n`` of an
enum, and makes arrays and maps of length ``k mod 3`` (passing ``k div 3`` to their items). With
enough samples (``_span``) every union branch and every enum symbol occurs at every position, and
collections are non-empty. A random generator would miss a removed enum symbol now and then, and a
flaky compatibility test is worse than none.
"""

from __future__ import annotations

import copy
import io
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import load_schema, parse_schema

from schemas.codec import AVRO_DIR

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MAX_DEPTH = 6  # recursive types (a record holding a list of itself) stop growing here
_MAX_SAMPLES = 2000  # deeply nested unions multiply; beyond this the check costs more than it finds


def load(schema: Any) -> Any:
    """A parsed schema from a file path, a JSON-like schema, or an already parsed one."""
    if isinstance(schema, Path):
        return load_schema(str(schema), _write_hint=False)
    return parse_schema(copy.deepcopy(schema), _write_hint=False)


class _Sampler:
    """Builds sample *k* of a parsed schema (see the module doc for why it is systematic)."""

    def __init__(self, k: int, named: dict[str, Any]) -> None:
        self.rng = random.Random(k)
        self.named = named

    def value(self, schema: Any, k: int, depth: int = 0) -> Any:
        if isinstance(schema, list):
            if depth >= _MAX_DEPTH and "null" in schema:
                return None
            return self.value(schema[k % len(schema)], k // len(schema), depth)
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return self._primitive(schema, k)
            return self.value(self.named[schema], k, depth)
        kind = schema["type"]
        logical = schema.get("logicalType")
        if logical is not None:
            sample = self._logical(schema, logical)
            if sample is not None:
                return sample
        if kind in ("record", "error"):
            return {f["name"]: self.value(f["type"], k, depth + 1) for f in schema["fields"]}
        if kind == "enum":
            return schema["symbols"][k % len(schema["symbols"])]
        if kind == "fixed":
            return self.rng.randbytes(schema["size"])
        if kind == "array":
            n = 0 if depth >= _MAX_DEPTH else k % 3
            return [self.value(schema["items"], k // 3, depth + 1) for _ in range(n)]
        if kind == "map":
            n = 0 if depth >= _MAX_DEPTH else k % 3
            return {f"key{i}": self.value(schema["values"], k // 3, depth + 1) for i in range(n)}
        return self.value(kind, k, depth)  # {"type": "string"} and the like

    def _primitive(self, kind: str, k: int) -> Any:
        r = self.rng
        match kind:
            case "null":
                return None
            case "boolean":
                return k % 2 == 1
            case "int":
                return r.randint(-(2**31), 2**31 - 1)
            case "long":
                return r.randint(-(2**63), 2**63 - 1)
            case "float" | "double":
                return r.uniform(-1e6, 1e6)
            case "bytes":
                return r.randbytes(k % 5)
            case _:
                return "".join(r.choice("abcđêơư 0129") for _ in range(k % 7))

    def _logical(self, schema: dict[str, Any], logical: str) -> Any:
        seconds = self.rng.randint(0, 100 * 365 * 86400)
        match logical:
            case "timestamp-millis" | "local-timestamp-millis":
                dt = _EPOCH + timedelta(seconds=seconds, milliseconds=self.rng.randint(0, 999))
                return dt if logical.startswith("timestamp") else dt.replace(tzinfo=None)
            case "timestamp-micros" | "local-timestamp-micros":
                dt = _EPOCH + timedelta(seconds=seconds, microseconds=self.rng.randint(0, 999_999))
                return dt if logical.startswith("timestamp") else dt.replace(tzinfo=None)
            case "date":
                return date(2000, 1, 1) + timedelta(days=seconds // 86400)
            case "time-millis" | "time-micros":
                return time(seconds % 24, seconds % 60, seconds % 60)
            case "uuid":
                return str(uuid.UUID(int=self.rng.getrandbits(128)))
            case "decimal":
                scale = int(schema.get("scale", 0))
                digits = max(1, int(schema.get("precision", 1)) - scale)
                return Decimal(self.rng.randint(0, 10**digits - 1)).scaleb(-scale)
        return None  # an unknown logical type is read as its underlying type


def samples(schema: Any, count: int | None = None) -> Iterator[Any]:
    """Representative values of a parsed schema; enough of them to cover every branch and symbol."""
    named: dict[str, Any] = {}
    _collect_named(schema, named)
    n = count if count is not None else min(_MAX_SAMPLES, max(12, _span(schema, named)))
    for k in range(n):
        yield _Sampler(k, named).value(schema, k)


def _collect_named(schema: Any, named: dict[str, Any]) -> None:
    """Named types by full name: a parsed schema defines each once and refers to it by name after,
    possibly from a union branch that a given sample does not take."""
    if isinstance(schema, list):
        for branch in schema:
            _collect_named(branch, named)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "error", "enum", "fixed"):
            named[schema["name"]] = schema
        for field in schema.get("fields", ()):
            _collect_named(field["type"], named)
        for key in ("items", "values"):
            if key in schema:
                _collect_named(schema[key], named)


def _span(schema: Any, named: dict[str, Any], depth: int = 0) -> int:
    """How many samples it takes for every choice at every position to occur.

    A union or collection divides *k* among its choices before passing it down, so the choices
    nested under it multiply; sibling fields share *k* and take the largest.
    """
    if depth > _MAX_DEPTH:
        return 1
    if isinstance(schema, list):
        return len(schema) * max(_span(s, named, depth) for s in schema)
    if isinstance(schema, str):
        return _span(named[schema], named, depth + 1) if schema in named else 2
    kind = schema.get("type")
    if kind == "enum":
        return len(schema["symbols"])
    if kind in ("record", "error"):
        return max([1, *(_span(f["type"], named, depth + 1) for f in schema["fields"])])
    if kind in ("array", "map"):
        return 3 * _span(schema["items" if kind == "array" else "values"], named, depth + 1)
    return 2 if kind == "boolean" else 1


def _roundtrip(writer: Any, reader: Any, datum: Any) -> None:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, writer, datum)
    buf.seek(0)
    fastavro.schemaless_reader(buf, writer, reader)


def _direction(writer: Any, reader: Any, label: str) -> list[str]:
    problems: dict[str, int] = {}  # message -> first sample that shows it
    for i, datum in enumerate(samples(writer)):
        try:
            _roundtrip(writer, reader, datum)
        except Exception as exc:  # noqa: BLE001 - every failure of resolution is a finding
            problems.setdefault(f"{label}: {type(exc).__name__}: {exc}", i)
    return [f"{message} (sample {i})" for message, i in problems.items()]


def check_compatible(old: Any, new: Any) -> list[str]:
    """Problems that stop ``old`` and ``new`` from reading each other's records (empty: compatible).

    Both directions are required (full compatibility): consumers and producers of a topic are
    deployed independently, so either side may run the newer schema first.
    """
    old_s, new_s = load(old), load(new)
    return _direction(old_s, new_s, "new schema cannot read old records") + _direction(
        new_s, old_s, "old schema cannot read new records"
    )


def history(avro_dir: Path = AVRO_DIR) -> dict[str, list[Path]]:
    """Each current schema file's full name, with its retired versions (oldest first)."""
    current = {p.stem: p for p in sorted(avro_dir.glob("*.avsc"))}
    retired: dict[str, list[Path]] = {name: [] for name in current}
    version_dirs = sorted((avro_dir / "versions").glob("*"), key=lambda p: int(p.name))
    for version_dir in version_dirs:
        for path in sorted(version_dir.glob("*.avsc")):
            retired.setdefault(path.stem, []).append(path)
    return retired


def check_history(avro_dir: Path = AVRO_DIR) -> dict[str, list[str]]:
    """Every retired version against the current schema of its family; only families with problems."""
    found: dict[str, list[str]] = {}
    for name, versions in history(avro_dir).items():
        current = avro_dir / f"{name}.avsc"
        if not current.exists():
            found[name] = [f"retired versions {[str(v) for v in versions]} have no current schema"]
            continue
        for version in versions:
            problems = check_compatible(version, current)
            if problems:
                found.setdefault(name, []).extend(f"{version.parent.name}: {p}" for p in problems)
    return found
