"""Land information system (đất đai) → canonical events."""

from __future__ import annotations

from datetime import datetime

from streams.model import DossierEvent
from streams.normalise import attrs
from streams.normalise.base import Fields, channel, make_normaliser
from streams.normalise.mapping import load_mapping
from streams.normalise.timeparse import epoch_millis

SYSTEM = "land"


def build(f: Fields, ingested_at: datetime) -> DossierEvent:
    codes = load_mapping(SYSTEM)
    status_code = f.required("trangThai")
    attributes = {attrs.SOURCE_DOSSIER_REF: f.required("maHoSoDatDai")}
    return DossierEvent(
        dossier_id=f.required("maHoSoMotCua"),
        source=SYSTEM,
        source_event_id=f.required("eventId"),
        source_seq=f.required("phienBan"),
        status=codes.status(status_code),
        source_status=status_code,
        occurred_at=epoch_millis(f.required("thoiDiem"), "thoiDiem"),
        recorded_at=f.time("thoiDiemGhiNhan", epoch_millis),
        ingested_at=ingested_at,
        procedure_code=f.optional("maThuTuc"),
        unit_code=f.optional("maDonVi"),
        channel=channel(codes, f.optional("kenhNop"), attributes),
        due_at=f.time("ngayHenTra", epoch_millis),
        overdue=f.optional("quaHan"),
        applicant_ref=f.optional("nguoiNopRef"),
        attributes=attributes,
    )


normalise_land = make_normaliser(SYSTEM, build)
