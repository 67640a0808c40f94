"""The mapping file of a tabular export (CSV / XES): which column means what, and which activity
means which canonical status.

A mapping is YAML beside the data, reviewed by someone who knows the exporting system; code never
hard-codes a source's vocabulary. It is validated when loaded, and every error names the key that
is wrong (``statuses[3].regex: ...``), because the person fixing it is editing that file, not
reading a traceback. ``docs/import.md`` describes every key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from streams.model import Channel, Status
from streams.normalise.mapping import code_key
from streams.strict_yaml import load_strict

MAPPINGS_DIR = Path(__file__).resolve().parent.parent / "mappings"
SKIP = "skip"

REQUIRED_COLUMNS = ("case_id", "activity", "timestamp")
OPTIONAL_COLUMNS = (
    "event_id",  # the source's own id of the event (task id): part of source_event_id
    "unit",
    "channel",
    "procedure",
    "start_date",  # case start → a synthesised start event (status by channel)
    "due_date",  # the source's own due date → due_at
    "end_date",  # case end → a synthesised end event (end_status)
    "planned_end",  # a second due date some systems keep → attributes["planned_end"]
    "overdue",  # the source's own overdue flag
)
_TOP_KEYS = {
    "version",
    "name",
    "description",
    "source",
    "dossier_id_prefix",
    "procedure_code",
    "columns",
    "attributes",
    "case_attributes",
    "time",
    "csv",
    "statuses",
    "default_status",
    "start_status",
    "end_status",
    "channels",
    "units",
}


class MappingError(ValueError):
    """A mapping file that cannot be used; the message starts with the file and the key."""


@dataclass(frozen=True)
class StatusRule:
    """``activity`` (exact, compared case- and space-insensitively) or ``regex`` (``re.search``)."""

    status: Status | None  # None: skip rows of this activity
    activity: str | None = None
    regex: re.Pattern[str] | None = None

    def matches(self, activity: str) -> bool:
        if self.regex is not None:
            return self.regex.search(activity) is not None
        return self.activity is not None and code_key(self.activity) == code_key(activity)


@dataclass
class Mapping:
    name: str
    columns: dict[str, str]  # role → column name (only the roles this export has)
    statuses: list[StatusRule]
    default_status: Status | None  # None: unmapped activities are skipped
    source: str | None = None
    description: str = ""
    dossier_id_prefix: str = ""
    procedure_code: str | None = None
    # attribute name → column. case_attributes go on every event of the case (the synthesised
    # start and end too); attributes only on the event of their own row (a task id, who did it).
    case_attributes: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    time_format: str | None = None  # None: ISO-8601; else a strptime pattern
    naive_offset: timezone | None = None  # offset assumed for times without one; None: reject them
    csv_delimiter: str = ","
    start_status: dict[Channel, Status] = field(default_factory=dict)
    end_status: Status = Status.RESULT_READY
    channels: dict[str, Channel] = field(default_factory=dict)  # by code_key of the raw value
    units: dict[str, str] = field(default_factory=dict)  # by code_key of the raw value
    _memo: dict[str, tuple[bool, Status | None]] = field(default_factory=dict, repr=False, compare=False)

    def column(self, role: str) -> str | None:
        return self.columns.get(role)

    def status_for(self, activity: str) -> tuple[bool, Status | None]:
        """``(matched, status)``: the first rule that matches wins; ``status`` None means skip.

        Memoised, misses too: an export has a few dozen activity names and millions of rows.
        """
        hit = self._memo.get(activity)
        if hit is None:
            rule = next((r for r in self.statuses if r.matches(activity)), None)
            hit = (True, rule.status) if rule is not None else (False, self.default_status)
            self._memo[activity] = hit
        return hit

    def channel_for(self, raw: str) -> Channel | None:
        """The canonical channel, or None when the map does not know the value."""
        return self.channels.get(code_key(raw))

    def unit_for(self, raw: str) -> str | None:
        return self.units.get(code_key(raw))


def _err(where: str, key: str, msg: str) -> MappingError:
    return MappingError(f"{where}: {key}: {msg}")


def _str(where: str, key: str, value: Any, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise _err(where, key, f"must be a non-empty string (got {value!r})")
    return value


def _status(where: str, key: str, value: Any, *, allow_skip: bool = False) -> Status | None:
    if allow_skip and value == SKIP:
        return None
    try:
        return Status(value)
    except ValueError:
        allowed = sorted(s.value for s in Status) + ([SKIP] if allow_skip else [])
        raise _err(where, key, f"{value!r} is not one of {', '.join(allowed)}") from None


def _required_status(where: str, key: str, value: Any) -> Status:
    status = _status(where, key, value)
    assert status is not None  # without allow_skip, _status returns a Status or raises
    return status


def _dict(where: str, key: str, value: Any) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _err(where, key, f"must be a mapping (got {type(value).__name__})")
    return value


def _offset(where: str, key: str, value: Any) -> timezone | None:
    if value is None:
        return None
    m = re.fullmatch(r"([+-])(\d{2}):(\d{2})", str(value))
    if m is None:
        raise _err(where, key, f"must be an offset like '+07:00' (got {value!r})")
    sign = 1 if m.group(1) == "+" else -1
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    if delta >= timedelta(hours=24):
        raise _err(where, key, f"offset out of range: {value!r}")
    return timezone(sign * delta)


def _rules(where: str, raw: Any) -> list[StatusRule]:
    if not isinstance(raw, list) or not raw:
        raise _err(where, "statuses", "must be a non-empty list of {activity|regex, status}")
    rules: list[StatusRule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        key = f"statuses[{i}]"
        if not isinstance(item, dict):
            raise _err(where, key, "must be a mapping with 'activity' or 'regex', and 'status'")
        unknown = set(item) - {"activity", "regex", "status", "why"}
        if unknown:
            raise _err(where, key, f"unknown key(s) {sorted(unknown)}")
        if ("activity" in item) == ("regex" in item):
            raise _err(where, key, "needs exactly one of 'activity' (exact name) or 'regex'")
        if "status" not in item:
            raise _err(where, f"{key}.status", "is required (a canonical status or 'skip')")
        status = _status(where, f"{key}.status", item["status"], allow_skip=True)
        if "activity" in item:
            name = _str(where, f"{key}.activity", item["activity"])
            if code_key(name) in seen:
                raise _err(where, f"{key}.activity", f"{name!r} is listed twice")
            seen.add(code_key(name))
            rules.append(StatusRule(status, activity=name))
        else:
            pattern = _str(where, f"{key}.regex", item["regex"])
            try:
                rules.append(StatusRule(status, regex=re.compile(pattern)))
            except re.error as exc:
                raise _err(
                    where, f"{key}.regex", f"{pattern!r} is not a valid regular expression: {exc}"
                ) from exc
    return rules


def _columns(where: str, raw: Any) -> dict[str, str]:
    raw = _dict(where, "columns", raw)
    unknown = set(raw) - set(REQUIRED_COLUMNS) - set(OPTIONAL_COLUMNS)
    if unknown:
        raise _err(where, "columns", f"unknown role(s) {sorted(unknown)}; roles: "
                   f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}")  # fmt: skip
    for role in REQUIRED_COLUMNS:
        if not raw.get(role):
            raise _err(where, f"columns.{role}", "is required (the column name in the export)")
    return {role: _str(where, f"columns.{role}", col) for role, col in raw.items() if col is not None}


def _value_map(where: str, key: str, raw: Any, convert: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for value, target in _dict(where, key, raw).items():
        k = code_key(value)
        if k in out:
            raise _err(where, f"{key}.{value}", "is listed twice (values are compared case-insensitively)")
        out[k] = convert(f"{key}.{value}", target)
    return out


def _channel(where: str, key: str, value: Any) -> Channel:
    try:
        return Channel(value)
    except ValueError:
        raise _err(where, key, f"{value!r} is not one of {', '.join(c.value for c in Channel)}") from None


def parse_mapping(text: str, where: str = "mapping") -> Mapping:
    """The YAML text of a mapping file → a validated ``Mapping`` (else ``MappingError``)."""
    try:
        doc = load_strict(text)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        raise MappingError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise MappingError(f"{where}: must be a YAML mapping at the top level")
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise _err(where, ", ".join(sorted(map(str, unknown))), f"unknown key; keys are {sorted(_TOP_KEYS)}")
    if doc.get("version", 1) != 1:
        raise _err(where, "version", f"only version 1 is known (got {doc.get('version')!r})")

    time_cfg = _dict(where, "time", doc.get("time"))
    unknown = set(time_cfg) - {"format", "naive_offset"}
    if unknown:
        raise _err(where, "time", f"unknown key(s) {sorted(unknown)}; keys are format, naive_offset")
    time_format = time_cfg.get("format")
    if time_format in (None, "iso"):
        time_format = None
    else:
        time_format = _str(where, "time.format", time_format)
        if "%" not in time_format:
            raise _err(where, "time.format", "'iso' or a strptime pattern like '%d/%m/%Y %H:%M:%S'")
    csv_cfg = _dict(where, "csv", doc.get("csv"))
    delimiter = csv_cfg.get("delimiter", ",")
    if set(csv_cfg) - {"delimiter"} or not isinstance(delimiter, str) or len(delimiter) != 1:
        raise _err(where, "csv", "only 'delimiter' (one character) may be set")

    start_raw = _dict(where, "start_status", doc.get("start_status"))
    start_status: dict[Channel, Status] = {}
    for ch, st in start_raw.items():
        channel = _channel(where, f"start_status.{ch}", ch)
        start_status[channel] = _required_status(where, f"start_status.{ch}", st)

    attributes, case_attributes = (
        {
            _str(where, key, name): _str(where, f"{key}.{name}", col)
            for name, col in _dict(where, key, doc.get(key)).items()
        }
        for key in ("attributes", "case_attributes")
    )
    clash = set(attributes) & set(case_attributes)
    if clash:
        raise _err(where, "attributes", f"{sorted(clash)} also in case_attributes: one name, one column")
    columns = _columns(where, doc.get("columns"))
    if start_status and "start_date" not in columns:
        raise _err(where, "start_status", "needs columns.start_date (the time of the start event)")
    prefix = doc.get("dossier_id_prefix", "")
    procedure = doc.get("procedure_code")
    return Mapping(
        name=str(doc.get("name") or where),
        description=str(doc.get("description") or ""),
        source=None if doc.get("source") is None else _str(where, "source", doc["source"]),
        dossier_id_prefix=_str(where, "dossier_id_prefix", prefix, allow_empty=True),
        procedure_code=None if procedure is None else _str(where, "procedure_code", procedure),
        columns=columns,
        attributes=attributes,
        case_attributes=case_attributes,
        time_format=time_format,
        naive_offset=_offset(where, "time.naive_offset", time_cfg.get("naive_offset")),
        csv_delimiter=delimiter,
        statuses=_rules(where, doc.get("statuses")),
        default_status=_status(where, "default_status", doc.get("default_status", SKIP), allow_skip=True),
        start_status=start_status,
        end_status=_required_status(where, "end_status", doc.get("end_status", "RESULT_READY")),
        channels=_value_map(where, "channels", doc.get("channels"), lambda k, v: _channel(where, k, v)),
        units=_value_map(where, "units", doc.get("units"), lambda k, v: _str(where, k, v)),
    )


def load_mapping(name_or_path: str | Path) -> Mapping:
    """A mapping file by path, or a shipped one by name (``wabo-receipt`` → mappings/wabo-receipt.yaml)."""
    path = Path(name_or_path)
    if not path.exists() and not path.suffix:
        shipped = MAPPINGS_DIR / f"{name_or_path}.yaml"
        if shipped.exists():
            path = shipped
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        names = sorted(p.stem for p in MAPPINGS_DIR.glob("*.yaml"))
        raise MappingError(f"{name_or_path}: no such mapping file (shipped mappings: {names})") from None
    return parse_mapping(text, where=path.name)


def parse_time(text: str, fmt: str | None, naive_offset: timezone | None) -> datetime:
    """A time in the export's format; ``ValueError`` says why it is not usable."""
    value = text.strip()
    # A pattern without %z parses naive; the offset is then applied just below, on purpose.
    dt = datetime.fromisoformat(value) if fmt is None else datetime.strptime(value, fmt)  # noqa: DTZ007
    if dt.tzinfo is None:
        if naive_offset is None:
            # A naive time is a timezone bug upstream; guessing would shift every dossier's
            # deadline by hours. The mapping may say which offset the export means.
            raise ValueError("no UTC offset (set time.naive_offset in the mapping if the export has none)")
        dt = dt.replace(tzinfo=naive_offset)
    if dt.year < 2000:  # the same floor as the normalisers: earlier values are unset clocks
        raise ValueError("before 2000, an unset clock")
    return dt
