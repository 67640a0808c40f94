"""The simulator's own data: one dossier's truth, and the records each system makes of it.

Plain mutable dataclasses, filled in stages: ``lifecycle`` writes the truth, ``faults`` and
``views`` add what each system reports, ``truth`` turns it into the JSON line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from producers.simulator.vocab import Step
from streams.domain.catalogue import ProcedureVersion
from streams.model import Channel


@dataclass(frozen=True)
class TrueEvent:
    step: Step
    at: datetime
    transfer_to: str | None = None  # TRANSFER_OUT: the agency it went to
    new_due: datetime | None = None  # EXTENSION: the new appointment date of the apology letter


@dataclass(frozen=True)
class SimPause:
    start: datetime
    end: datetime | None  # None: still waiting at the end of the simulation
    reason: str  # supplement | financial_obligation (the words of streams.pauses)

    def to_json(self) -> dict[str, str | None]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Document:
    code: str
    digitised: bool
    reused: bool


@dataclass
class Dossier:
    index: int
    code: str
    procedure_code: str
    procedure_version: str
    procedure_name: str
    field_code: str | None
    unit_code: str
    channel: Channel
    systems: tuple[str, ...]
    applicant_id: str
    applicant_name: str
    submitted_at: datetime
    civil_kind: str | None = None
    applicant_phone: str = ""  # on the source forms, dropped by the adapters
    applicant_address: str = ""
    version: ProcedureVersion | None = None  # the catalogue version valid at receipt
    complex_case: bool = False  # the version's longer "complex case" limit applies
    events: list[TrueEvent] = field(default_factory=list)  # what happened by the simulation's end
    received_at: datetime | None = None
    receipt_effective_at: datetime | None = None
    received_late: bool | None = None
    pauses: list[SimPause] = field(default_factory=list)
    legal_due_at: datetime | None = None  # None while the clock is stopped (an open pause)
    clock_stopped: bool = False
    original_due_at: datetime | None = None  # set when extended: the date it is judged against
    extended_due_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str = "PENDING"
    documents: tuple[Document, ...] = ()
    paid_online: int | None = None  # the portal's DuocThanhToanTrucTuyen: 1 portal, 2 local gateway
    result_files: int = 0
    faults: list[dict[str, Any]] = field(default_factory=list)
    source_due_at: dict[str, datetime | None] = field(default_factory=dict)
    source_overdue: dict[str, bool | None] = field(default_factory=dict)
    source_status: dict[str, str] = field(default_factory=dict)


@dataclass
class SourceRecord:
    """One record a system sends about one dossier, before it is worded in the system's format."""

    system: str
    seq: int  # the system's own per-dossier order (1, 2, ...)
    event: TrueEvent
    code: str | int  # the system's status code
    stamp: datetime  # the event time as the system's clock wrote it
    recorded_at: datetime  # when the system stored it, by its own clock
    deliver_at: datetime  # when the system sends it
    due_at: datetime | None
    overdue: bool | None
    unit_code: str
    resend: bool = False  # a duplicate of an earlier record (same ids)
