"""Format ``dossier-events``: JSON Lines of canonical events, one object per line.

The format another system (or a script) writes when it already speaks dongbo's vocabulary; it is
also what ``dongbo import --output`` writes, so a CSV / XES import can be inspected, diffed and
replayed. ``docs/import.md`` documents the fields. The reader is strict: an unknown key is a
skipped line, not ignored, because a typo (``occured_at``) would otherwise silently drop data.
The event id is never read from the file: it is recomputed from ``source`` and
``source_event_id``, so a file cannot forge another event's id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from producers.importers.files import has_bad_bytes, open_text
from producers.importers.report import ImportReport
from streams.model import Channel, DossierEvent, Status

REQUIRED = ("source_event_id", "dossier_id", "status", "occurred_at")
OPTIONAL = (
    "source",  # required unless the import is run with --source
    "source_seq",
    "source_status",
    "recorded_at",
    "procedure_code",
    "unit_code",
    "channel",
    "due_at",
    "overdue",
    "attributes",
)
_KNOWN = frozenset(REQUIRED + OPTIONAL)


class _Bad(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _opt(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise _Bad("bad_field", f"{key} must be a string (got {type(value).__name__})")
    return value


def _req(obj: dict[str, Any], key: str) -> str:
    value = _opt(obj, key)
    if value is None:
        raise _Bad("missing_field", f"{key} is missing or blank")
    return value


def _opt_time(obj: dict[str, Any], key: str) -> datetime | None:
    text = _opt(obj, key)
    return None if text is None else _time(key, text)


def _time(key: str, text: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad("bad_timestamp", f"{key}={text!r} is not ISO-8601") from None
    if dt.tzinfo is None:
        raise _Bad("bad_timestamp", f"{key}={text!r} has no UTC offset")
    if dt.year < 2000:
        raise _Bad("bad_timestamp", f"{key}={text!r} is before 2000, an unset clock")
    return dt


def parse_event(obj: Any, default_source: str | None, ingested_at: datetime) -> DossierEvent:
    """One decoded JSON value → a canonical event, or ``_Bad`` with the reason."""
    if not isinstance(obj, dict):
        raise _Bad("bad_field", f"a line must be a JSON object (got {type(obj).__name__})")
    unknown = sorted(set(obj) - _KNOWN)
    if unknown:
        raise _Bad("unknown_field", f"unknown key(s) {unknown}")
    if default_source is None:
        source = _req(obj, "source")
    else:
        source = _opt(obj, "source") or default_source
        if source != default_source:
            raise _Bad("source_mismatch", f"source {source!r}, this import is for {default_source!r}")
    status_text = _req(obj, "status")
    try:
        status = Status(status_text)
    except ValueError:
        raise _Bad("bad_field", f"status {status_text!r} is not a canonical status") from None
    channel_text = _opt(obj, "channel") or Channel.UNKNOWN.value
    try:
        channel = Channel(channel_text)
    except ValueError:
        raise _Bad("bad_field", f"channel {channel_text!r} is not one of COUNTER, ONLINE, POSTAL") from None
    seq = obj.get("source_seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise _Bad("bad_field", f"source_seq must be an integer (got {seq!r})")
    overdue = obj.get("overdue")
    if overdue is not None and not isinstance(overdue, bool):
        raise _Bad("bad_field", f"overdue must be true, false or null (got {overdue!r})")
    attributes = obj.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        raise _Bad("bad_field", "attributes must be an object of string values")
    return DossierEvent(
        dossier_id=_req(obj, "dossier_id"),
        source=source,
        source_event_id=_req(obj, "source_event_id"),
        source_seq=seq,
        status=status,
        source_status=_opt(obj, "source_status"),
        occurred_at=_time("occurred_at", _req(obj, "occurred_at")),
        recorded_at=_opt_time(obj, "recorded_at"),
        ingested_at=ingested_at,
        procedure_code=_opt(obj, "procedure_code"),
        unit_code=_opt(obj, "unit_code"),
        channel=channel,
        due_at=_opt_time(obj, "due_at"),
        overdue=overdue,
        attributes=dict(attributes),
    )


def read_events(
    path: Path,
    report: ImportReport,
    ingested_at: datetime,
    default_source: str | None = None,
    limit: int | None = None,
) -> Iterator[DossierEvent]:
    """Events of a JSON Lines file (``.gz`` too); bad lines are reported, never raised."""
    with open_text(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            if limit is not None and report.rows_read >= limit:
                return
            report.rows_read += 1
            where = f"line {line_no}"
            if has_bad_bytes(line):
                report.skip("bad_encoding", where, "bytes that are not UTF-8")
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                report.skip("invalid_json", where, str(exc))
                continue
            try:
                event = parse_event(obj, default_source, ingested_at)
            except _Bad as exc:
                report.skip(exc.reason, where, exc.detail)
                continue
            report.produced(event)
            yield event


def event_to_json(event: DossierEvent) -> dict[str, Any]:
    """The ``dossier-events`` line of an event (``ingested_at`` and ``event_id`` are not part of it)."""

    def iso(dt: datetime | None) -> str | None:
        return None if dt is None else dt.isoformat()

    doc: dict[str, Any] = {
        "source": event.source,
        "source_event_id": event.source_event_id,
        "dossier_id": event.dossier_id,
        "status": event.status.value,
        "occurred_at": iso(event.occurred_at),
        "procedure_code": event.procedure_code,
        "unit_code": event.unit_code,
        "channel": event.channel.value,
        "due_at": iso(event.due_at),
        "overdue": event.overdue,
        "source_seq": event.source_seq,
        "source_status": event.source_status,
        "recorded_at": iso(event.recorded_at),
        "attributes": dict(event.attributes),
    }
    return {k: v for k, v in doc.items() if v is not None and v != {}}


def write_events(events: Iterable[DossierEvent], fh: IO[str]) -> int:
    n = 0
    for event in events:
        fh.write(json.dumps(event_to_json(event), ensure_ascii=False, separators=(",", ":")) + "\n")
        n += 1
    return n
