"""What every source's normaliser shares: decoding, field access, the clock-skew guard."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from fastavro.validation import ValidationError, validate

from contract.sources import RAW_SCHEMAS
from schemas import codec
from streams.model import Channel, DossierEvent
from streams.normalise import attrs
from streams.normalise.errors import NormaliseError
from streams.normalise.mapping import CodeMap

# A source clock hours off, or a wrong time zone (±7 h), is a disagreement dongbo explains, not bad
# input: its records must reach the merge. A time more than a day ahead of arrival is garbage.
DEFAULT_MAX_SKEW = timedelta(days=1)

# codec.DecodeError reasons, as the dead-letter topic files them.
_DECODE_REASONS = {
    "undecodable": "undecodable",
    "unknown_schema": "unknown_schema",
    "unexpected_record": "unknown_schema",  # another record than this source writes, e.g. misrouted
    "trailing_bytes": "trailing_bytes",
}


class Normaliser(Protocol):
    def __call__(
        self, raw: bytes | Mapping[str, Any], ingested_at: datetime, *, max_skew: timedelta = DEFAULT_MAX_SKEW
    ) -> DossierEvent: ...


def decode(schema: str, raw: bytes | Mapping[str, Any]) -> dict[str, Any]:
    """The record, from single-object bytes or from a dict that must fit the same schema.

    A dict gets the same checks the bytes would: a field without a default that is absent is
    ``missing_field``, a value of the wrong type is ``undecodable``.
    """
    if isinstance(raw, bytes | bytearray | memoryview):
        try:
            return codec.decode(schema, bytes(raw))
        except codec.DecodeError as exc:
            raise NormaliseError(_DECODE_REASONS.get(exc.reason, "undecodable"), exc.detail) from exc
    parsed = codec.current(schema).parsed
    record = dict(raw)
    for field in parsed["fields"]:
        if field["name"] not in record:
            if "default" not in field:
                raise NormaliseError("missing_field", f"{schema}: {field['name']} is absent")
            record[field["name"]] = copy.deepcopy(field["default"])
    try:
        validate(record, parsed, raise_errors=True)
    except ValidationError as exc:
        raise NormaliseError("undecodable", f"{schema}: {exc}"[:2000]) from exc
    return record


@dataclass(frozen=True)
class Fields:
    """A decoded record, read the way a normaliser needs it."""

    system: str
    record: dict[str, Any]

    def required(self, name: str) -> Any:
        """A value the canonical event cannot do without; blank counts as absent."""
        value = self.optional(name)
        if value is None:
            raise NormaliseError("missing_field", f"{self.system}: {name} is missing")
        return value

    def optional(self, name: str) -> Any:
        value = self.record.get(name)
        if isinstance(value, str):
            value = value.strip() or None
        return value

    def time(self, name: str, parse: Callable[[Any, str], datetime]) -> datetime | None:
        """An optional time in the source's format."""
        value = self.optional(name)
        return None if value is None else parse(value, name)


# Plausible event and appointment dates: nothing dongbo handles happened before 2000 (the oldest
# exports imported are from 2010), and no appointment is set years ahead (the longest limits are
# months; an apology letter adds weeks): ten years is generous. A date outside is a source's bug,
# and left in it would break the calendar arithmetic of the whole dossier (the calendar covers 1995–2199).
EARLIEST_PLAUSIBLE = datetime(2000, 1, 1, tzinfo=UTC)
MAX_AHEAD = timedelta(days=10 * 366)


def check_skew(event: DossierEvent, ingested_at: datetime, max_skew: timedelta) -> DossierEvent:
    """Event times later than arrival plus the skew are a source's clock or timezone fault.

    Such an event would otherwise win every "latest event" comparison for as long as the clock
    is wrong. Appointment dates are in the future by nature: they are held to a plausible window
    instead (no earlier than 2000, no later than ten years after the event), as every time is.
    """
    limit = ingested_at + max_skew
    for name in ("occurred_at", "recorded_at"):
        value: datetime | None = getattr(event, name)
        if value is not None and value > limit:
            raise NormaliseError(
                "future_timestamp",
                f"{event.source} {name}={value.isoformat()} is {value - ingested_at} after ingestion "
                f"at {ingested_at.isoformat()} (allowed skew {max_skew})",
            )
    latest = max(ingested_at, event.occurred_at) + MAX_AHEAD
    for f in fields(event):
        value = getattr(event, f.name)
        if (
            f.name != "ingested_at"
            and isinstance(value, datetime)
            and not EARLIEST_PLAUSIBLE <= value <= latest
        ):
            raise NormaliseError(
                "implausible_timestamp",
                f"{event.source} {f.name}={value.isoformat()} is outside the plausible window "
                f"{EARLIEST_PLAUSIBLE:%Y-%m-%d} – {latest:%Y-%m-%d} (ten years after the event)",
            )
    return event


def make_normaliser(system: str, build: Callable[[Fields, datetime], DossierEvent]) -> Normaliser:
    """A source's normaliser: decode → build the canonical event → guard the clock."""
    schema = RAW_SCHEMAS[system]

    def normalise(
        raw: bytes | Mapping[str, Any], ingested_at: datetime, *, max_skew: timedelta = DEFAULT_MAX_SKEW
    ) -> DossierEvent:
        if ingested_at.tzinfo is None:
            raise ValueError("ingested_at must carry a UTC offset")  # a caller's bug, not bad input
        event = build(Fields(system, decode(schema, raw)), ingested_at)
        return check_skew(event, ingested_at, max_skew)

    normalise.__name__ = f"normalise_{system}"
    normalise.__qualname__ = normalise.__name__
    return normalise


def counts(items: list[dict[str, Any]], flag: str) -> str:
    """How many items have ``flag`` set (portal 0/1 ints), as an attribute string."""
    return str(sum(1 for item in items if item.get(flag)))


def channel(codes: CodeMap, code: object | None, attributes: dict[str, str]) -> Channel:
    """The canonical channel; a code the map does not know is kept in the attributes to be added."""
    mapped = codes.channel(code)
    if code is not None and mapped is Channel.UNKNOWN:
        attributes[attrs.SOURCE_CHANNEL] = str(code)
    return mapped
