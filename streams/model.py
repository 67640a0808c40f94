"""The canonical model: one vocabulary for every source system.

Plain data with no I/O. Times are timezone-aware ``datetime`` objects everywhere in Python; the
Avro records carry them as ``timestamp-millis`` and the internal JSON as ISO-8601 strings.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

VN_TZ = timezone(timedelta(hours=7), "ICT")  # Asia/Ho_Chi_Minh has had no DST since 1975


class Status(StrEnum):
    """The canonical lifecycle (docs/domain-rules.md §C)."""

    SUBMITTED = "SUBMITTED"
    RECEIVED = "RECEIVED"
    SUPPLEMENT_REQUESTED = "SUPPLEMENT_REQUESTED"
    SUPPLEMENT_RECEIVED = "SUPPLEMENT_RECEIVED"
    FINANCIAL_OBLIGATION = "FINANCIAL_OBLIGATION"
    IN_PROGRESS = "IN_PROGRESS"
    TRANSFERRED = "TRANSFERRED"
    SUSPENDED = "SUSPENDED"
    RESULT_READY = "RESULT_READY"
    RETURNED = "RETURNED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"
    STOPPED = "STOPPED"
    CANCELLED = "CANCELLED"


class Channel(StrEnum):
    COUNTER = "COUNTER"
    ONLINE = "ONLINE"
    POSTAL = "POSTAL"
    UNKNOWN = "UNKNOWN"


class Outcome(StrEnum):
    PENDING = "PENDING"
    ON_TIME = "ON_TIME"
    ENDED_EARLY = "ENDED_EARLY"
    OVERDUE = "OVERDUE"


# Stage of each status. A dossier's unified status never moves to a lower stage; within the
# processing stage (2) it may move freely (supplement loops, transfers, suspensions).
STAGE: dict[Status, int] = {
    Status.SUBMITTED: 0,
    Status.RECEIVED: 1,
    Status.SUPPLEMENT_REQUESTED: 2,
    Status.SUPPLEMENT_RECEIVED: 2,
    Status.FINANCIAL_OBLIGATION: 2,
    Status.IN_PROGRESS: 2,
    Status.TRANSFERRED: 2,
    Status.SUSPENDED: 2,
    Status.RESULT_READY: 3,
    Status.RETURNED: 4,
    Status.REJECTED: 5,
    Status.WITHDRAWN: 5,
    Status.STOPPED: 5,
    Status.CANCELLED: 5,
}
TERMINAL_EXITS = frozenset({Status.REJECTED, Status.WITHDRAWN, Status.STOPPED, Status.CANCELLED})
# Statuses that end processing (docs/domain-rules.md §7): the first of them is the end time.
ENDING = frozenset({Status.RESULT_READY, Status.REJECTED, Status.WITHDRAWN, Status.STOPPED, Status.CANCELLED})


def event_id_for(source: str, source_event_id: str) -> str:
    """Deterministic id: replaying a source's event yields the same id, so it is applied once."""
    return hashlib.sha256(f"{source}\x1f{source_event_id}".encode()).hexdigest()[:32]


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


def from_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError(f"timestamp without a UTC offset: {text!r}")
    return dt


# Moments and flags the rules depend on are typed fields of the event. Until DossierEvent version
# 2 (schemas/avro/versions/2) the normalisers wrote them as strings into ``attributes``, and records
# of that time may still be on ``dossier.events`` (and on ``src.import.dossier``): attribute key →
# the typed field it is read into (``DossierEvent.from_record``, the one place that reads them).
# ``DossierEvent.attributes`` keys the Decision 766 indicators read (``streams.normalise.attrs``
# names every key; these are the ones the unified state carries, merged across systems).
PAID_ONLINE = "paid_online"  # 3.6: paid online (true / false), where a fee applies
PAYMENT_GATEWAY = "payment_gateway"
DOCUMENTS_TOTAL = "documents_total"  # 4.2 / 4.3: component documents,
DOCUMENTS_DIGITISED = "documents_digitised"  # digitised,
DOCUMENTS_REUSED = "documents_reused"  # reused from the citizen's data store
RESULT_FILES = "result_files"  # 4.1: electronic result files
RESULT_FILES_SIGNED = "result_files_signed"
INDICATOR_ATTRIBUTES = frozenset({
    PAID_ONLINE, PAYMENT_GATEWAY, DOCUMENTS_TOTAL, DOCUMENTS_DIGITISED, DOCUMENTS_REUSED, RESULT_FILES,
    RESULT_FILES_SIGNED,
})  # fmt: skip


LEGACY_ATTRIBUTES: dict[str, str] = {
    "received_at": "stated_received_at",
    "processing_ended_at": "stated_ended_at",
    "supplement_requested_at": "stated_supplement_requested_at",
    "supplement_received_at": "stated_supplement_received_at",
    "extension_new_due_at": "extended_due_at",
    "complex_case": "complex_case",
}
_TIMES = ("occurred_at", "ingested_at", "recorded_at", "due_at")
_STATED_TIMES = (
    "stated_received_at",
    "stated_ended_at",
    "stated_supplement_requested_at",
    "stated_supplement_received_at",
    "extended_due_at",
)


def _legacy_value(key: str, text: str) -> datetime | bool:
    """A legacy attribute's value as its typed field holds it; ``ValueError`` when malformed (the
    merge stage dead-letters the record: a value a rule depends on is never silently dropped)."""
    if LEGACY_ATTRIBUTES[key] == "complex_case":
        if text not in ("true", "false"):
            raise ValueError(f"attributes[{key!r}]={text!r}: expected 'true' or 'false'")
        return text == "true"
    try:
        when = from_iso(text)
    except ValueError as exc:
        raise ValueError(f"attributes[{key!r}]={text!r}: not an ISO-8601 time with a UTC offset") from exc
    assert when is not None
    return when


@dataclass(frozen=True)
class DossierEvent:
    """One change of one dossier, as one source reported it, in the canonical vocabulary.

    Besides the change itself, a record may state earlier moments of the dossier (the portal
    restates its receipt, the latest supplement request and the end of processing on every
    update), an apology letter's new appointment date, and whether the complex-case limit applies.
    """

    dossier_id: str
    source: str
    source_event_id: str
    status: Status
    occurred_at: datetime
    ingested_at: datetime
    source_seq: int | None = None
    source_status: str | None = None
    recorded_at: datetime | None = None
    procedure_code: str | None = None
    unit_code: str | None = None
    channel: Channel = Channel.UNKNOWN
    due_at: datetime | None = None
    overdue: bool | None = None
    applicant_ref: str | None = None
    # Moments this record states besides its own change (None: it does not say).
    stated_received_at: datetime | None = None  # the receipt (portal NgayTiepNhan)
    stated_ended_at: datetime | None = None  # the end of processing (portal NgayKetThucXuLy)
    stated_supplement_requested_at: datetime | None = None  # the latest supplement request: asked
    stated_supplement_received_at: datetime | None = None  # ... and answered
    extended_due_at: datetime | None = None  # the latest apology letter's new appointment date
    complex_case: bool | None = None  # the source says the complex-case limit applies
    attributes: dict[str, str] = field(default_factory=dict)
    event_id: str = ""

    def __post_init__(self) -> None:
        if not self.event_id:
            object.__setattr__(self, "event_id", event_id_for(self.source, self.source_event_id))
        for name in _TIMES + _STATED_TIMES:
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must carry a UTC offset (got naive {value!r})")

    def to_record(self) -> dict[str, Any]:
        """The Avro record (datetimes stay datetimes: fastavro writes timestamp-millis)."""
        return {
            "event_id": self.event_id,
            "dossier_id": self.dossier_id,
            "source": self.source,
            "source_event_id": self.source_event_id,
            "source_seq": self.source_seq,
            "status": self.status.value,
            "source_status": self.source_status,
            "occurred_at": self.occurred_at,
            "recorded_at": self.recorded_at,
            "ingested_at": self.ingested_at,
            "procedure_code": self.procedure_code,
            "unit_code": self.unit_code,
            "channel": self.channel.value,
            "due_at": self.due_at,
            "overdue": self.overdue,
            "applicant_ref": self.applicant_ref,
            "stated_received_at": self.stated_received_at,
            "stated_ended_at": self.stated_ended_at,
            "stated_supplement_requested_at": self.stated_supplement_requested_at,
            "stated_supplement_received_at": self.stated_supplement_received_at,
            "extended_due_at": self.extended_due_at,
            "complex_case": self.complex_case,
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> DossierEvent:
        """The event of a decoded record, of any version.

        A record of version 2 or earlier carries the typed fields as ``attributes`` strings
        (``LEGACY_ATTRIBUTES``): they are read into the typed fields here, and only here, and leave
        ``attributes``. A typed field that is set wins over its legacy attribute. A malformed
        legacy value raises ``ValueError`` (the record is dead-lettered, never half read).
        """
        attributes = dict(rec.get("attributes") or {})
        typed: dict[str, Any] = {name: rec.get(name) for name in LEGACY_ATTRIBUTES.values()}
        for key, name in LEGACY_ATTRIBUTES.items():
            text = attributes.pop(key, None)
            if text is not None:
                value = _legacy_value(key, text)
                if typed[name] is None:
                    typed[name] = value
        return cls(
            event_id=rec["event_id"],
            dossier_id=rec["dossier_id"],
            source=rec["source"],
            source_event_id=rec["source_event_id"],
            source_seq=rec.get("source_seq"),
            status=Status(rec["status"]),
            source_status=rec.get("source_status"),
            occurred_at=rec["occurred_at"],
            recorded_at=rec.get("recorded_at"),
            ingested_at=rec["ingested_at"],
            procedure_code=rec.get("procedure_code"),
            unit_code=rec.get("unit_code"),
            channel=Channel(rec.get("channel") or "UNKNOWN"),
            due_at=rec.get("due_at"),
            overdue=rec.get("overdue"),
            applicant_ref=rec.get("applicant_ref"),
            attributes=attributes,
            **typed,
        )
