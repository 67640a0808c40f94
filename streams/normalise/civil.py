"""Civil-status system (hộ tịch) → canonical events."""

from __future__ import annotations

from datetime import datetime

from streams.model import DossierEvent
from streams.normalise import attrs
from streams.normalise.base import Fields, channel, make_normaliser
from streams.normalise.mapping import load_mapping
from streams.normalise.timeparse import vn_dmy_time

SYSTEM = "civil"


def build(f: Fields, ingested_at: datetime) -> DossierEvent:
    codes = load_mapping(SYSTEM)
    status_text = f.required("tinh_trang")
    attributes = {attrs.SOURCE_DOSSIER_REF: f.required("so_ho_so")}
    if (kind := f.optional("loai_viec")) is not None:
        attributes[attrs.CIVIL_EVENT_KIND] = kind
    return DossierEvent(
        # Without the one-stop code the event cannot join its dossier: dead-letter it, visibly.
        dossier_id=f.required("ma_ho_so_mot_cua"),
        source=SYSTEM,
        source_event_id=f.required("ma_giao_dich"),
        status=codes.status(status_text),
        source_status=status_text,
        occurred_at=vn_dmy_time(f.required("thoi_gian_cap_nhat"), "thoi_gian_cap_nhat"),
        ingested_at=ingested_at,
        procedure_code=f.optional("ma_thu_tuc"),
        unit_code=f.optional("co_quan_dang_ky"),
        channel=channel(codes, f.optional("hinh_thuc_nop"), attributes),
        due_at=f.time("han_tra", vn_dmy_time),
        overdue=f.optional("qua_han"),
        applicant_ref=f.optional("nguoi_yeu_cau"),
        attributes=attributes,
    )


normalise_civil = make_normaliser(SYSTEM, build)
