"""City one-stop system (workflow steps) → canonical events."""

from __future__ import annotations

from datetime import datetime

from streams.model import DossierEvent
from streams.normalise import attrs
from streams.normalise.base import Fields, channel, make_normaliser
from streams.normalise.mapping import load_mapping
from streams.normalise.timeparse import iso_time, vn_iso

SYSTEM = "onestop"
# appointmentChange.reason → the attribute pair it fills.
_CHANGE_KEYS = {
    "SUPPLEMENT": (attrs.SUPPLEMENT_PREVIOUS_DUE_AT, attrs.SUPPLEMENT_NEW_DUE_AT),
    "APOLOGY_LETTER": (attrs.EXTENSION_PREVIOUS_DUE_AT, attrs.EXTENSION_NEW_DUE_AT),
}


def _attributes(f: Fields) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, name in (
        (attrs.STEP_LABEL, "stepLabel"),
        (attrs.HANDLING_DEPARTMENT, "handlingDepartment"),
        (attrs.TRANSFER_TO, "transferTo"),
    ):
        if (value := f.optional(name)) is not None:
            out[key] = value
    for key, name in ((attrs.PAID_ONLINE, "feePaidOnline"), (attrs.COMPLEX_CASE, "complexCase")):
        if (flag := f.optional(name)) is not None:
            out[key] = "true" if flag else "false"
    change = f.optional("appointmentChange")
    if change is not None:
        keys = _CHANGE_KEYS.get(change["reason"].strip().upper())
        if keys is not None:
            out[keys[0]] = vn_iso(iso_time(change["previousDate"], "appointmentChange.previousDate"))
            out[keys[1]] = vn_iso(iso_time(change["newDate"], "appointmentChange.newDate"))
    return out


def build(f: Fields, ingested_at: datetime) -> DossierEvent:
    codes = load_mapping(SYSTEM)
    step = f.required("stepCode")
    attributes = _attributes(f)
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
        attributes=attributes,
    )


normalise_onestop = make_normaliser(SYSTEM, build)
