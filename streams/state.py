"""Per-dossier state as plain data: every source's view side by side, the unified status, the
legal view, open conflicts, discrepancies, and the event history it was derived from.

Deriving a state is the merge's job (``streams.merge``); this module only holds, writes and reads
it back. ``loads(dumps(s)) == s``: restoring a state from the table runs no rule. The state is a
pure function of the set of events applied, evaluated at a moment: the history is kept in
event-time order, so late, reordered or repeated events end in the same state as a well-behaved
feed. Only ``version`` depends on arrival order (it counts visible changes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from streams.domain.deadlines import tracking_due
from streams.model import INDICATOR_ATTRIBUTES, Channel, DossierEvent, Outcome, Status, from_iso, to_iso


def _at(text: str) -> datetime:
    """A time that must be there (``from_iso`` of a required field)."""
    when = from_iso(text)
    if when is None:
        raise ValueError("a required time is missing")
    return when


def _pairs(value: dict[str, str] | list[list[str]] | None) -> tuple[tuple[str, str], ...]:
    """Indicators as sorted pairs, from a mapping (``to_json``) or a list of pairs (``dumps``)."""
    items = value.items() if isinstance(value, dict) else (value or ())
    return tuple(sorted((k, v) for k, v in items))


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime | None  # None: the clock is stopped now
    reason: str
    source: str

    def to_json(self) -> dict[str, str | None]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "reason": self.reason,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Pause:
        return cls(_at(d["start"]), from_iso(d.get("end")), d["reason"], d["source"])


@dataclass(frozen=True)
class Conflict:
    kind: str  # status_mismatch | terminal_contradiction | due_date_mismatch | missing_in_system
    systems: tuple[str, ...]
    detail: str
    values: dict[str, str]
    since: datetime  # capture time the disagreement began (when the later record was captured)

    @property
    def key(self) -> str:
        return f"{self.kind}:{'+'.join(self.systems)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "systems": list(self.systems),
            "detail": self.detail,
            "values": dict(self.values),
            "since": self.since.isoformat(),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Conflict:
        return cls(d["kind"], tuple(d["systems"]), d["detail"], dict(d["values"]), _at(d["since"]))


@dataclass(frozen=True)
class Discrepancy:
    source: str
    field: str  # due_at | overdue
    reason: str  # calendar_holiday, calendar_makeup_day, missed_pause, appointment_changed, ...
    detail: str  # for a person: what the source did, checkable
    source_value: str
    legal_value: str

    def to_json(self) -> dict[str, str]:
        return {
            "source": self.source,
            "field": self.field,
            "reason": self.reason,
            "detail": self.detail,
            "source_value": self.source_value,
            "legal_value": self.legal_value,
        }

    @classmethod
    def from_json(cls, d: dict[str, str]) -> Discrepancy:
        return cls(**d)


@dataclass(frozen=True)
class HistoryEntry:
    """The part of a DossierEvent that the state needs to re-derive itself."""

    event_id: str
    source: str
    status: Status
    occurred_at: datetime
    ingested_at: datetime
    seq: int | None = None
    source_status: str | None = None
    due_at: datetime | None = None
    overdue: bool | None = None
    procedure_code: str | None = None
    unit_code: str | None = None
    channel: Channel = Channel.UNKNOWN
    extended_due_at: datetime | None = None  # an apology letter's new appointment date
    complex_case: bool | None = None  # the source says the complex-case limit applies (None: silent)
    # Moments a record states besides its own step (the portal repeats the receipt and the latest
    # supplement on every update): what a lost update said is still known from the next one.
    stated_received_at: datetime | None = None
    stated_pause_start: datetime | None = None
    stated_pause_end: datetime | None = None
    stated_ended_at: datetime | None = None  # the end of processing (result ready), as stated
    # What the Decision 766 indicators read (``INDICATOR_ATTRIBUTES``), as the record said it.
    indicators: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of_event(cls, event: DossierEvent) -> HistoryEntry:
        """The entry of an event: its typed fields (a record's legacy attribute strings were read
        into them when it was decoded, ``DossierEvent.from_record``)."""
        return cls(
            event_id=event.event_id,
            source=event.source,
            status=event.status,
            occurred_at=event.occurred_at,
            ingested_at=event.ingested_at,
            seq=event.source_seq,
            source_status=event.source_status,
            due_at=event.due_at,
            overdue=event.overdue,
            procedure_code=event.procedure_code,
            unit_code=event.unit_code,
            channel=event.channel,
            extended_due_at=event.extended_due_at,
            complex_case=event.complex_case,
            stated_received_at=event.stated_received_at,
            stated_pause_start=event.stated_supplement_requested_at,
            stated_pause_end=event.stated_supplement_received_at,
            stated_ended_at=event.stated_ended_at,
            indicators=tuple(
                sorted((k, v) for k, v in event.attributes.items() if k in INDICATOR_ATTRIBUTES)
            ),
        )

    def order_key(self) -> tuple[datetime, int, str]:
        # Event time first; the source's own sequence breaks ties within one source; the id makes
        # the order total so every worker derives the same state.
        return (self.occurred_at, self.seq if self.seq is not None else -1, self.event_id)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HistoryEntry:
        return cls(
            event_id=d["event_id"],
            source=d["source"],
            status=Status(d["status"]),
            occurred_at=_at(d["occurred_at"]),
            ingested_at=_at(d["ingested_at"]),
            seq=d.get("seq"),
            source_status=d.get("source_status"),
            due_at=from_iso(d.get("due_at")),
            overdue=d.get("overdue"),
            procedure_code=d.get("procedure_code"),
            unit_code=d.get("unit_code"),
            channel=Channel(d.get("channel") or "UNKNOWN"),
            extended_due_at=from_iso(d.get("extended_due_at")),
            complex_case=d.get("complex_case"),
            stated_received_at=from_iso(d.get("stated_received_at")),
            stated_pause_start=from_iso(d.get("stated_pause_start")),
            stated_pause_end=from_iso(d.get("stated_pause_end")),
            stated_ended_at=from_iso(d.get("stated_ended_at")),
            indicators=_pairs(d.get("indicators")),
        )


@dataclass(frozen=True)
class SourceView:
    """What one source system says about the dossier, as of its latest event."""

    source: str
    status: Status
    source_status: str | None
    last_occurred_at: datetime
    last_seen_at: datetime
    last_seq: int | None
    due_at: datetime | None
    overdue: bool | None
    events: int
    unit_code: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status.value,
            "source_status": self.source_status,
            "last_occurred_at": self.last_occurred_at,
            "last_seen_at": self.last_seen_at,
            "last_seq": self.last_seq,
            "due_at": self.due_at,
            "overdue": self.overdue,
            "events": self.events,
            "unit_code": self.unit_code,
        }

    def to_json(self) -> dict[str, Any]:
        rec = self.to_record()
        for k in ("last_occurred_at", "last_seen_at", "due_at"):
            rec[k] = to_iso(rec[k])
        return rec

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SourceView:
        return cls(
            source=d["source"],
            status=Status(d["status"]),
            source_status=d.get("source_status"),
            last_occurred_at=_at(d["last_occurred_at"]),
            last_seen_at=_at(d["last_seen_at"]),
            last_seq=d.get("last_seq"),
            due_at=from_iso(d.get("due_at")),
            overdue=d.get("overdue"),
            events=d["events"],
            unit_code=d.get("unit_code"),
        )


@dataclass(frozen=True)
class DossierState:
    dossier_id: str
    version: int = 0
    status: Status | None = None
    procedure_code: str | None = None
    unit_code: str | None = None
    channel: Channel = Channel.UNKNOWN
    submitted_at: datetime | None = None
    received_at: datetime | None = None
    ended_at: datetime | None = None
    due_at: datetime | None = None
    outcome: Outcome = Outcome.PENDING
    last_event_at: datetime | None = None
    updated_at: datetime | None = None
    sources: dict[str, SourceView] = field(default_factory=dict)
    pauses: tuple[Pause, ...] = ()
    conflicts: tuple[Conflict, ...] = ()  # open now, sorted by key
    extended_due_at: datetime | None = None
    received_late: bool = False
    alerts: tuple[str, ...] = ()  # deadline alerts fired so far (each kind once)
    discrepancies: tuple[Discrepancy, ...] = ()
    # The Decision 766 indicators' attributes (paid online, documents, result files): each key from
    # the most trusted system that reports it.
    attributes: dict[str, str] = field(default_factory=dict)
    # Bookkeeping: the time the state was last evaluated at (time-dependent parts: conflicts,
    # outcome) and the event history it is derived from. Not part of the published record.
    evaluated_at: datetime | None = None
    history: tuple[HistoryEntry, ...] = ()

    # -- views ---------------------------------------------------------------------------------
    @property
    def tracking_due_at(self) -> datetime | None:
        """The date the dossier is followed against (docs/domain-rules.md §6)."""
        return tracking_due(self.due_at, self.extended_due_at)

    def evolve(self, **changes: Any) -> DossierState:
        """``dataclasses.replace`` for the merge's hot path: a copy with ``changes``, without
        running ``__init__`` again (no field has a check to rerun; replace costs ~20 µs here, and
        every evaluation makes several)."""
        unknown = changes.keys() - _FIELDS
        if unknown:
            raise TypeError(f"DossierState has no field {sorted(unknown)}")
        new = object.__new__(DossierState)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new

    def same_visible(self, other: DossierState) -> bool:
        """``self.visible() == other.visible()`` without building either record (this runs at
        every evaluation): every field but the bookkeeping ones compared as values."""
        return all(getattr(self, f) == getattr(other, f) for f in _VISIBLE_FIELDS)

    def visible(self) -> dict[str, Any]:
        """Everything a consumer sees except bookkeeping (version, updated_at, history)."""
        rec = self.to_record()
        for k in ("version", "updated_at"):
            rec.pop(k)
        return rec

    def to_record(self) -> dict[str, Any]:
        """The Avro ``DossierState`` record published on ``dossier.state``."""
        return {
            "dossier_id": self.dossier_id,
            "version": self.version,
            "status": self.status.value if self.status else None,
            "procedure_code": self.procedure_code,
            "unit_code": self.unit_code,
            "channel": self.channel.value,
            "submitted_at": self.submitted_at,
            "received_at": self.received_at,
            "ended_at": self.ended_at,
            "due_at": self.due_at,
            "outcome": self.outcome.value,
            "last_event_at": self.last_event_at,
            "updated_at": self.updated_at,
            "sources": {name: view.to_record() for name, view in sorted(self.sources.items())},
            "extended_due_at": self.extended_due_at,
            "received_late": self.received_late,
            "alerts": list(self.alerts),
            "discrepancies": [d.to_json() for d in self.discrepancies],
            "attributes": dict(sorted(self.attributes.items())),
            "pauses": [
                {"start": p.start, "end": p.end, "reason": p.reason, "source": p.source} for p in self.pauses
            ],
            "conflicts": [
                {
                    "kind": c.kind,
                    "systems": list(c.systems),
                    "detail": c.detail,
                    "values": dict(c.values),
                    "since": c.since,
                }
                for c in self.conflicts
            ],
        }

    def to_json(self) -> dict[str, Any]:
        """JSON for humans and tools (the table writes the same names and values: ``dumps``)."""
        rec = self.to_record()
        for k in ("submitted_at", "received_at", "ended_at", "due_at", "last_event_at", "updated_at",
                  "extended_due_at"):  # fmt: skip
            rec[k] = to_iso(rec[k])
        rec["sources"] = {name: view.to_json() for name, view in sorted(self.sources.items())}
        rec["pauses"] = [p.to_json() for p in self.pauses]
        rec["conflicts"] = [c.to_json() for c in self.conflicts]
        rec["discrepancies"] = [d.to_json() for d in self.discrepancies]
        return rec

    def dumps(self) -> bytes:
        """The table's serialisation: every field (``to_json``'s, the evaluation time and the
        history to re-derive from), written by orjson from the dataclasses themselves: the same
        names and values as ``to_json`` (times in ISO 8601 with their offset, enums by value), at
        an eighth of the cost of building the dicts for ``json`` (this runs for every state the
        worker stores). Only fields are written, not what rides along (``streams.derive``).

        Copied once: the bytes orjson returns keep the whole buffer it wrote into allocated (~8 KB
        for a 1.3 KB value, measured), and the table, Faust and the changelog producer hold values
        long enough for that to be most of the worker's memory; the copy is exactly its length."""
        return bytes(memoryview(orjson.dumps(self)))

    @classmethod
    def loads(cls, raw: bytes) -> DossierState:
        """The state ``dumps`` wrote, field by field: no rule runs on a restore. Reads values
        written before orjson too (``json`` of ``to_json``, the history without its empty fields)."""
        d = orjson.loads(raw)
        status = d.get("status")
        return cls(
            dossier_id=d["dossier_id"],
            version=d["version"],
            status=Status(status) if status else None,
            procedure_code=d.get("procedure_code"),
            unit_code=d.get("unit_code"),
            channel=Channel(d.get("channel") or "UNKNOWN"),
            submitted_at=from_iso(d.get("submitted_at")),
            received_at=from_iso(d.get("received_at")),
            ended_at=from_iso(d.get("ended_at")),
            due_at=from_iso(d.get("due_at")),
            outcome=Outcome(d.get("outcome") or "PENDING"),
            last_event_at=from_iso(d.get("last_event_at")),
            updated_at=from_iso(d.get("updated_at")),
            sources={name: SourceView.from_json(v) for name, v in d.get("sources", {}).items()},
            pauses=tuple(Pause.from_json(p) for p in d.get("pauses", ())),
            conflicts=tuple(Conflict.from_json(c) for c in d.get("conflicts", ())),
            extended_due_at=from_iso(d.get("extended_due_at")),
            received_late=bool(d.get("received_late")),
            alerts=tuple(d.get("alerts") or ()),
            discrepancies=tuple(Discrepancy.from_json(x) for x in d.get("discrepancies", ())),
            attributes=dict(d.get("attributes") or {}),
            evaluated_at=from_iso(d.get("evaluated_at")),
            history=tuple(HistoryEntry.from_json(h) for h in d.get("history", ())),
        )


# What ``DossierState.visible`` publishes, as fields: all but the bookkeeping.
_BOOKKEEPING = {"version", "updated_at", "evaluated_at", "history"}
_VISIBLE_FIELDS = tuple(f for f in DossierState.__dataclass_fields__ if f not in _BOOKKEEPING)
_FIELDS = frozenset(DossierState.__dataclass_fields__)
