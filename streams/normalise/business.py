"""Business-registration system (đăng ký doanh nghiệp) → canonical events."""

from __future__ import annotations

from datetime import datetime

from streams.model import DossierEvent
from streams.normalise import attrs
from streams.normalise.base import Fields, channel, make_normaliser
from streams.normalise.mapping import load_mapping
from streams.normalise.timeparse import iso_time

SYSTEM = "business"


def build(f: Fields, ingested_at: datetime) -> DossierEvent:
    codes = load_mapping(SYSTEM)
    status_code = f.required("status_code")
    attributes = {attrs.SOURCE_DOSSIER_REF: f.required("application_no")}
    if (paid := f.optional("fee_paid_online")) is not None:
        attributes[attrs.PAID_ONLINE] = "true" if paid else "false"
    return DossierEvent(
        dossier_id=f.required("one_stop_code"),
        source=SYSTEM,
        source_event_id=f.required("event_id"),
        source_seq=f.optional("revision"),
        status=codes.status(status_code),
        source_status=status_code,
        occurred_at=iso_time(f.required("status_changed_at"), "status_changed_at"),
        recorded_at=f.time("recorded_at", iso_time),
        ingested_at=ingested_at,
        procedure_code=f.optional("procedure_code"),
        unit_code=f.optional("registration_office"),
        channel=channel(codes, f.optional("submission_method"), attributes),
        due_at=f.time("expected_result_at", iso_time),
        applicant_ref=f.optional("founder_ref"),
        attributes=attributes,
    )


normalise_business = make_normaliser(SYSTEM, build)
