"""Load, validate and write the procedure catalogue (YAML or CSV).

YAML (``data/catalogue.yaml``)::

    procedures:
      - code: "1.001193"              # MaTTHC; quote it (YAML would read 1.001193 as a number)
        name: "Đăng ký khai sinh"       # Vietnamese name (required)
        name_en: "Birth registration"  # optional
        sector: "Hộ tịch"               # optional: lĩnh vực
        level: commune                 # optional: commune | district | province | ministry
        versions:                      # at least one; validity periods must not overlap
          - valid_from: 2016-01-01     # required
            valid_to: 2025-06-30       # optional, inclusive; omitted = still valid
            unit: same_day             # same_day | working_hours | working_days | days | months
            limit: 0                   # required unless same_day; whole number for days/months
            cutoff: "15:00"            # same_day only; omitted = the policy's cut-off (15:00)
            pause_on: [SUPPLEMENT_REQUESTED, FINANCIAL_OBLIGATION]  # omitted = policy default
            complex: {limit: 5, unit: working_days, when: "cần xác minh"}  # optional
            steps:                     # optional (liên thông); shares add up to 1
              - {agency: "UBND cấp xã", share: 0.4}
              - {agency: "Công an cấp xã", share: 0.6}
            basis: "Luật Hộ tịch 2014, Điều 16"

CSV: one row per version, UTF-8, a header row; rows of one code must agree on its names.
Columns (``code``, ``name``, ``valid_from``, ``unit`` required; others may be absent or empty):
``code, name, name_en, sector, level, valid_from, valid_to, unit, limit, cutoff, pause_on,
complex_limit, complex_unit, complex_when, steps, basis``, where ``pause_on`` is
``STATUS;STATUS`` and ``steps`` is ``agency=share;agency=share``.

Every problem is reported, each with the file, line and field, before anything is used.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from streams.domain.catalogue import Catalogue, Procedure, ProcedureVersion, Step
from streams.domain.limits import Limit, LimitUnit
from streams.model import Status

_PROC_KEYS = {"code", "name", "name_en", "sector", "level", "versions"}
_VERSION_KEYS = {"valid_from", "valid_to", "unit", "limit", "cutoff", "pause_on", "complex", "steps", "basis"}
_LEVELS = {"commune", "district", "province", "ministry"}
CSV_COLUMNS = (
    "code", "name", "name_en", "sector", "level", "valid_from", "valid_to", "unit", "limit", "cutoff",
    "pause_on", "complex_limit", "complex_unit", "complex_when", "steps", "basis",
)  # fmt: skip


@dataclass(frozen=True)
class Problem:
    source: str
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        at = f"{self.source}:{self.line}" if self.line else self.source
        return f"{at}: {self.where}: {self.message}"


class CatalogueError(ValueError):
    """The catalogue file is not usable; ``problems`` lists every reason, with line and field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        head = f"{len(problems)} problem(s) in the catalogue:"
        super().__init__("\n".join([head, *(f"  {p}" for p in problems)]))


class _Node(dict[str, Any]):
    """A mapping that remembers the line of itself and of each of its keys."""

    line: int | None = None
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int | None:
        return getattr(self, "key_lines", {}).get(key, self.line)


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_node(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _Node:
    out = _Node({str(k): v for k, v in loader.construct_mapping(node, deep=True).items()})
    out.line = node.start_mark.line + 1
    out.key_lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_node)
# Dates stay text until _as_date reads them: YAML's own reading of 2025-13-01 fails without a line.
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda _loader, node: str(node.value))


class _Checker:
    """Collects problems while turning raw mappings into model objects."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def fail(self, node: _Node | None, key: str | None, where: str, message: str) -> None:
        line = (node.line_of(key) if key else node.line) if node is not None else None
        self.problems.append(Problem(self.source, line, f"{where}.{key}" if key else where, message))

    def get(
        self, node: _Node, key: str, where: str, conv: Callable[[Any], Any], required: bool = False
    ) -> Any:
        value = node.get(key)
        if value is None or value == "":
            if required:
                self.fail(node, key, where, "is required")
            return None
        try:
            return conv(value)
        except (TypeError, ValueError) as exc:
            self.fail(node, key, where, str(exc))
            return None

    def unknown_keys(self, node: _Node, allowed: set[str], where: str) -> None:
        for key in sorted(set(node) - allowed):
            self.fail(node, key, where, f"unknown field (allowed: {', '.join(sorted(allowed))})")


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date: expected YYYY-MM-DD") from None


def _as_time(value: Any) -> time:
    if isinstance(value, int) and not isinstance(value, bool):  # YAML 1.1 reads 15:00 as 900
        value = f"{value // 60}:{value % 60:02d}"
    try:
        hh, mm = str(value).strip().split(":")
        return time(int(hh), int(mm))
    except ValueError:
        raise ValueError(f"{value!r} is not a time of day: expected HH:MM, e.g. '15:00'") from None


def _as_unit(value: Any) -> LimitUnit:
    try:
        return LimitUnit(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(u.value for u in LimitUnit)
        raise ValueError(f"{value!r} is not a unit: use one of {allowed}") from None


def _as_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if number < 0:
        raise ValueError(f"{number:g} is negative")
    return number


def _as_statuses(value: Any) -> frozenset[Status]:
    items = value if isinstance(value, list) else [s for s in str(value).split(";") if s.strip()]
    out = set()
    for item in items:
        try:
            out.add(Status(str(item).strip().upper()))
        except ValueError:
            hint = "use the canonical names, e.g. SUPPLEMENT_REQUESTED"
            raise ValueError(f"{item!r} is not a status: {hint}") from None
    return frozenset(out)


def _as_code(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} must be quoted text (YAML reads 1.001193 as a number): write '1.001193'")
    if not value.strip():
        raise ValueError("is empty")
    return value.strip()


def _as_text(value: Any) -> str:
    return str(value).strip()


def _check_limit(ck: _Checker, node: _Node, where: str, prefix: str = "") -> Limit | None:
    unit = ck.get(node, f"{prefix}unit", where, _as_unit, required=not prefix)
    if prefix and unit is None:
        unit = LimitUnit.WORKING_DAYS if node.get(f"{prefix}limit") not in (None, "") else None
        if unit is None:
            return None
    value = ck.get(node, f"{prefix}limit", where, _as_number, required=unit is not LimitUnit.SAME_DAY)
    cutoff = ck.get(node, "cutoff", where, _as_time) if not prefix else None
    if unit is None or (value is None and unit is not LimitUnit.SAME_DAY):
        return None
    if cutoff is not None and unit is not LimitUnit.SAME_DAY:
        ck.fail(node, "cutoff", where, f"a cut-off only applies to same_day limits (unit is {unit.value})")
    if unit is not LimitUnit.SAME_DAY and value == 0:
        ck.fail(node, f"{prefix}limit", where, "must be more than 0")
        return None
    try:
        return Limit(value or 0, unit, cutoff)
    except ValueError as exc:
        ck.fail(node, f"{prefix}limit", where, str(exc))
        return None


def _check_steps(ck: _Checker, node: _Node, where: str) -> tuple[Step, ...]:
    raw = node.get("steps") or []
    if isinstance(raw, str):  # CSV: agency=share;agency=share
        items: list[Any] = []
        for part in (p for p in raw.split(";") if p.strip()):
            agency, sep, share_text = part.rpartition("=")
            if not sep:
                ck.fail(node, "steps", where, f"{part!r}: expected agency=share")
                continue
            items.append({"agency": agency, "share": share_text})
        raw = items
    if not isinstance(raw, list):
        ck.fail(node, "steps", where, "expected a list of {agency, share}")
        return ()
    steps: list[Step] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or not str(item.get("agency") or "").strip():
            ck.fail(node, "steps", where, f"step {i + 1}: expected {{agency, share}}")
            continue
        try:
            share = _as_number(item.get("share"))
        except ValueError as exc:
            ck.fail(node, "steps", where, f"step {i + 1} share: {exc}")
            continue
        if not 0 < share <= 1:
            ck.fail(node, "steps", where, f"step {i + 1} share {share:g}: a share is in (0, 1]")
            continue
        steps.append(Step(str(item["agency"]).strip(), share))
    if steps and abs(sum(s.share for s in steps) - 1) > 1e-6:
        ck.fail(node, "steps", where, f"shares add up to {sum(s.share for s in steps):g}, not 1")
    return tuple(steps)


def _check_version(ck: _Checker, proc: _Node, node: _Node, where: str) -> ProcedureVersion | None:
    if not isinstance(node, Mapping):
        ck.fail(proc, "versions", where, "expected a mapping")
        return None
    ck.unknown_keys(node, _VERSION_KEYS | _CSV_ONLY_KEYS, where)
    n_before = len(ck.problems)
    valid_from = ck.get(node, "valid_from", where, _as_date, required=True)
    valid_to = ck.get(node, "valid_to", where, _as_date)
    limit = _check_limit(ck, node, where)
    complex_node = node.get("complex")
    complex_limit, complex_when = None, ck.get(node, "complex_when", where, _as_text)
    if isinstance(complex_node, Mapping):
        sub = _Node({f"complex_{k}": v for k, v in complex_node.items()})
        sub.line = getattr(complex_node, "line", node.line_of("complex"))
        ck.unknown_keys(sub, {"complex_limit", "complex_unit", "complex_when"}, f"{where}.complex")
        complex_limit = _check_limit(ck, sub, where, prefix="complex_")
        complex_when = ck.get(sub, "complex_when", where, _as_text)
    elif complex_node is not None:
        ck.fail(node, "complex", where, "expected {limit, unit, when}")
    else:
        complex_limit = _check_limit(ck, node, where, prefix="complex_")
    pause_on = ck.get(node, "pause_on", where, _as_statuses)
    steps = _check_steps(ck, node, where)
    if valid_from and valid_to and valid_to < valid_from:
        ck.fail(node, "valid_to", where, f"{valid_to} is before valid_from {valid_from}")
    if len(ck.problems) > n_before or limit is None:
        return None
    return ProcedureVersion(
        code=proc["code"], name=proc["name"], name_en=str(proc.get("name_en") or ""),
        valid_from=valid_from, valid_to=valid_to, limit=limit, pause_on=pause_on,
        complex_limit=complex_limit, complex_when=complex_when, steps=steps,
        basis=ck.get(node, "basis", where, _as_text),
        sector=ck.get(proc, "sector", where, _as_text), level=proc.get("level"),
    )  # fmt: skip


_CSV_ONLY_KEYS = {"complex_limit", "complex_unit", "complex_when"}


def _check_procedure(ck: _Checker, node: Any, where: str) -> Procedure | None:
    if not isinstance(node, _Node):
        ck.problems.append(Problem(ck.source, None, where, "expected a mapping with code, name, versions"))
        return None
    ck.unknown_keys(node, _PROC_KEYS, where)
    code = ck.get(node, "code", where, _as_code, required=True)
    name = ck.get(node, "name", where, _as_text, required=True)
    if code:
        where = f"{where} ({code})"
    level = ck.get(node, "level", where, _as_text)
    if level is not None and level not in _LEVELS:
        ck.fail(node, "level", where, f"{level!r}: use one of {', '.join(sorted(_LEVELS))}")
    raw_versions = node.get("versions")
    if not isinstance(raw_versions, list) or not raw_versions:
        ck.fail(node, "versions" if "versions" in node else None, where, "needs a non-empty list of versions")
        return None
    if code is None or name is None:
        return None
    node["code"], node["name"] = code, name
    versions = [_check_version(ck, node, v, f"{where}.versions[{i}]") for i, v in enumerate(raw_versions)]
    if any(v is None for v in versions):
        return None
    ordered = sorted((v for v in versions if v is not None), key=lambda v: v.valid_from)
    for a, b in itertools.pairwise(ordered):
        if a.valid_to is None or a.valid_to >= b.valid_from:
            ck.fail(node, "versions", where, f"versions overlap: {a.describe()} and {b.describe()}")
            return None
    return Procedure(code, name, str(node.get("name_en") or ""), tuple(ordered))


def _build(ck: _Checker, nodes: list[Any]) -> Catalogue:
    procedures: dict[str, Procedure] = {}
    first_line: dict[str, int | None] = {}
    for i, node in enumerate(nodes):
        proc = _check_procedure(ck, node, f"procedures[{i}]")
        if proc is None:
            continue
        if proc.code in procedures:
            again = f"{proc.code!r} already defined at line {first_line[proc.code]}"
            ck.fail(node, "code", f"procedures[{i}]", again)
            continue
        procedures[proc.code] = proc
        first_line[proc.code] = node.line
    if ck.problems:
        raise CatalogueError(ck.problems)
    return Catalogue(procedures, ck.source)


def parse_yaml(text: str, source: str = "catalogue.yaml") -> Catalogue:
    ck = _Checker(source)
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise CatalogueError([Problem(source, line, "file", f"not valid YAML: {exc}")]) from None
    nodes = doc.get("procedures") if isinstance(doc, Mapping) else doc
    if not isinstance(nodes, list):
        raise CatalogueError([Problem(source, 1, "file", "expected 'procedures:' with a list of procedures")])
    return _build(ck, nodes)


def parse_csv(text: str, source: str = "catalogue.csv") -> Catalogue:
    ck = _Checker(source)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    missing = [c for c in ("code", "name", "valid_from", "unit") if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        msg = (f"missing column(s) {missing} " if missing else "") + (
            f"unknown column(s) {unknown} " if unknown else ""
        )
        expected = ", ".join(CSV_COLUMNS)
        raise CatalogueError([Problem(source, 1, "header", f"{msg}(columns: {expected})")])
    by_code: dict[str, _Node] = {}
    order: list[_Node] = []
    for row in reader:
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in row.items() if k is not None}
        version = _Node({k: v for k, v in values.items() if k not in _PROC_KEYS and v})
        version.line, version.key_lines = line, {}
        code = values.get("code", "")
        proc = by_code.get(code) if code else None
        if proc is None:
            proc = _Node({k: values[k] for k in _PROC_KEYS - {"versions"} if values.get(k)})
            proc.line, proc.key_lines = line, {}
            proc["versions"] = []
            order.append(proc)
            if code:
                by_code[code] = proc
        else:
            for k in ("name", "name_en", "sector", "level"):
                if values.get(k) and values[k] != proc.get(k):
                    ck.problems.append(
                        Problem(source, line, f"{code}.{k}", f"{values[k]!r} differs from line {proc.line}")
                    )
        proc["versions"].append(version)
    return _build(ck, order)


def load_catalogue(path: Path) -> Catalogue:
    """A catalogue file: ``.csv`` is CSV, anything else YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError([Problem(str(path), None, "file", f"cannot be read: {exc}")]) from None
    return parse_csv(text, str(path)) if path.suffix.lower() == ".csv" else parse_yaml(text, str(path))


def packaged_catalogue_path() -> Path:
    return Path(str(resources.files("streams.domain").joinpath("data/catalogue.yaml")))


def cached_catalogue(path: Path | None = None) -> Catalogue:
    """The catalogue at ``path`` (the packaged one by default), read again only when the file
    changes (``dongbo catalogue load`` replaces it)."""
    path = path or packaged_catalogue_path()
    try:
        st = path.stat()
    except OSError as exc:
        raise CatalogueError([Problem(str(path), None, "file", f"cannot be read: {exc}")]) from None
    return _cached(path, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=8)
def _cached(path: Path, _mtime_ns: int, _size: int) -> Catalogue:
    return load_catalogue(path)


def _limit_doc(limit: Limit) -> dict[str, Any]:
    doc: dict[str, Any] = {"unit": limit.unit.value}
    if limit.unit is not LimitUnit.SAME_DAY:
        doc["limit"] = int(limit.value) if limit.value == int(limit.value) else limit.value
    return doc


def to_yaml(catalogue: Catalogue) -> str:
    """The catalogue in the YAML format above (what ``dongbo catalogue load`` installs)."""
    procs: list[dict[str, Any]] = []
    for p in catalogue:
        first = p.versions[0]
        doc: dict[str, Any] = {"code": p.code, "name": p.name, "name_en": p.name_en}
        doc |= {k: v for k, v in (("sector", first.sector), ("level", first.level)) if v}
        doc["versions"] = []
        for v in p.versions:
            vd: dict[str, Any] = {"valid_from": v.valid_from}
            if v.valid_to:
                vd["valid_to"] = v.valid_to
            vd |= _limit_doc(v.limit)
            if v.limit.cutoff:
                vd["cutoff"] = f"{v.limit.cutoff:%H:%M}"
            if v.pause_on is not None:
                vd["pause_on"] = sorted(s.value for s in v.pause_on)
            if v.complex_limit:
                vd["complex"] = {**_limit_doc(v.complex_limit), "when": v.complex_when}
            if v.steps:
                vd["steps"] = [{"agency": s.agency, "share": s.share} for s in v.steps]
            if v.basis:
                vd["basis"] = v.basis
            doc["versions"].append(vd)
        procs.append(doc)
    return yaml.safe_dump({"procedures": procs}, allow_unicode=True, sort_keys=False, width=110)
