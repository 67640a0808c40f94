"""What the adapters share: keep only the schema's fields, write times in the source's format.

Whitelisting is the privacy rule made mechanical: a source payload carries names, addresses and
phone numbers next to the fields we need, and only fields the raw schema declares survive. The
applicant's identity number survives only as the adapter's pseudonym.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from schemas import codec
from streams.model import VN_TZ

TimeFormat = Callable[[datetime], Any]


def project(value: Any, schema: Any) -> Any:
    """``value`` reduced to what ``schema`` (parsed) declares; absent fields get their defaults.

    An absent field without a default is left out, so ``codec.encode`` names it: that is a bug
    in the caller, not something to paper over here.
    """
    if isinstance(schema, list):  # a union: a mapping goes to its record branch, the rest as is
        records = [s for s in schema if isinstance(s, dict) and s.get("type") == "record"]
        return project(value, records[0]) if isinstance(value, Mapping) and records else value
    if not isinstance(schema, dict):
        return value
    if schema.get("type") == "record" and isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for field in schema["fields"]:
            name = field["name"]
            if name in value:
                out[name] = project(value[name], field["type"])
            elif "default" in field:
                out[name] = copy.deepcopy(field["default"])  # never share a mutable default
        return out
    if schema.get("type") == "array" and isinstance(value, list | tuple):
        return [project(item, schema["items"]) for item in value]
    return value


def whitelist(schema_name: str, native: Mapping[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = project(native, codec.current(schema_name).parsed)
    return record


def aware(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: a source time must carry its UTC offset")
    return dt


def fmt(value: Any, to_source: TimeFormat) -> Any:
    """A ``datetime`` in the source's own format; strings (already in it) and ``None`` unchanged."""
    return to_source(aware(value)) if isinstance(value, datetime) else value


def retime(record: dict[str, Any], names: tuple[str, ...], to_source: TimeFormat) -> None:
    for name in names:
        if name in record:
            record[name] = fmt(record[name], to_source)


# The formats, one per source (the normalisers parse them back in streams.normalise.timeparse).
def portal_format(dt: datetime) -> str:
    return dt.astimezone(VN_TZ).strftime("%Y%m%d%H%M%S")


def iso_vn_format(dt: datetime) -> str:
    return dt.astimezone(VN_TZ).isoformat(timespec="seconds")


def vn_dmy_format(dt: datetime) -> str:
    return dt.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M:%S")


def epoch_millis_format(dt: datetime) -> int:
    return round(dt.timestamp() * 1000)


def iso_utc_format(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def identifier(native: Mapping[str, Any], holder: str, number: str) -> str | None:
    """The identity number inside ``native[holder][number]``, if the source sent one."""
    person = native.get(holder)
    if isinstance(person, Mapping):
        value = person.get(number)
        return None if value is None else str(value)
    return None
