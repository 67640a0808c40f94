"""City one-stop system (workflow steps) → canonical events.

The desk's complex-case decision and an apology letter's new appointment date are typed fields of
the event (the merge rules depend on them); the rest go into ``attributes`` (keys in ``attrs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from streams.model import DossierEvent
from streams.normalise import attrs
from streams.normalise.base import Fields, channel, make_normaliser
from streams.normalise.mapping import load_mapping
from streams.normalise.timeparse import iso_time, vn_iso

SYSTEM = "onestop"
APOLOGY_LETTER = "APOLOGY_LETTER"
# appointmentChange.reason → the attributes its previous and new dates go into. An apology
# letter's new date is the typed ``extended_due_at`` instead (docs/domain-rules.md §6).
_CHANGE_KEYS: dict[str, tuple[str, str | None]] = {
    "SUPPLEMENT": (attrs.SUPPLEMENT_PREVIOUS_DUE_AT, attrs.SUPPLEMENT_NEW_DUE_AT),
    APOLOGY_LETTER: (attrs.EXTENSION_PREVIOUS_DUE_AT, None),
}


@dataclass(frozen=True)
class _Change:
    reason: str  # a key of _CHANGE_KEYS
    previous: datetime
    new: datetime


def _change(f: Fields) -> _Change | None:
    """The appointment change of this step, when its reason is one dongbo reads."""
    change = f.optional("appointmentChange")
    if change is None:
        return None
    reason = change["reason"].strip().upper()
    if reason not in _CHANGE_KEYS:
        return None
    return _Change(
        reason,
        iso_time(change["previousDate"], "appointmentChange.previousDate"),
        iso_time(change["newDate"], "appointmentChange.newDate"),
    )


def _attributes(f: Fields, change: _Change | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, name in (
        (attrs.STEP_LABEL, "stepLabel"),
        (attrs.HANDLING_DEPARTMENT, "handlingDepartment"),
        (attrs.TRANSFER_TO, "transferTo"),
    ):
        if (value := f.optional(name)) is not None:
            out[key] = value
    if (paid := f.optional("feePaidOnline")) is not None:
        out[attrs.PAID_ONLINE] = "true" if paid else "false"
    if change is not None:
        previous_key, new_key = _CHANGE_KEYS[change.reason]
        out[previous_key] = vn_iso(change.previous)
        if new_key is not None:
            out[new_key] = vn_iso(change.new)
    return out


def build(f: Fields, ingested_at: datetime) -> DossierEvent:
    codes = load_mapping(SYSTEM)
    step = f.required("stepCode")
    change = _change(f)
    attributes = _attributes(f, change)
    return DossierEvent(
        dossier_id=f.required("dossierCode"),
        source=SYSTEM,
        source_event_id=f.required("stepId"),
        source_seq=f.required("stepSeq"),
        status=codes.status(step),
        source_status=step,
        occurred_at=iso_time(f.required("occurredAt"), "occurredAt"),
        recorded_at=f.time("recordedAt", iso_time),
        ingested_at=ingested_at,
        procedure_code=f.required("procedureCode"),
        unit_code=f.optional("receivingAgency"),
        channel=channel(codes, f.optional("receiveChannel"), attributes),
        due_at=f.time("appointmentDate", iso_time),
        overdue=f.optional("isOverdue"),
        applicant_ref=f.optional("applicantRef"),
        extended_due_at=change.new if change is not None and change.reason == APOLOGY_LETTER else None,
        complex_case=f.optional("complexCase"),
        attributes=attributes,
    )


normalise_onestop = make_normaliser(SYSTEM, build)
