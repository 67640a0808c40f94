"""National Public Service Portal → canonical events.

The portal syncs the whole dossier after each change, so one event also carries what the
Decision 766 indicators need (payment, documents, result files) and the supplement and apology
history; those go into ``attributes`` (keys in ``attrs``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streams.model import DossierEvent
from streams.normalise import attrs
from streams.normalise.base import Fields, channel, counts, make_normaliser
from streams.normalise.mapping import load_mapping
from streams.normalise.timeparse import portal_time, vn_iso

SYSTEM = "portal"
# DuocThanhToanTrucTuyen: where it was paid; 0 or absent means not paid online.
_GATEWAYS = {1: "portal", 2: "local"}


def _time_attr(out: dict[str, str], key: str, item: dict[str, Any], name: str, where: str = "") -> None:
    """``out[key]`` = the portal date ``item[name]`` in ISO form, when it is set."""
    if value := item.get(name):
        out[key] = vn_iso(portal_time(value, where + name))


def _attributes(f: Fields) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, name in ((attrs.PROCEDURE_NAME, "TenTTHC"), (attrs.FIELD_CODE, "MaLinhVuc")):
        if (value := f.optional(name)) is not None:
            out[key] = value
    _time_attr(out, attrs.RECEIVED_AT, f.record, "NgayTiepNhan")
    _time_attr(out, attrs.PROCESSING_ENDED_AT, f.record, "NgayKetThucXuLy")
    _time_attr(out, attrs.RETURNED_AT, f.record, "NgayTra")

    paid = f.optional("DuocThanhToanTrucTuyen")
    out[attrs.PAID_ONLINE] = "true" if paid in _GATEWAYS else "false"
    if paid in _GATEWAYS:
        out[attrs.PAYMENT_GATEWAY] = _GATEWAYS[paid]

    documents: list[dict[str, Any]] = f.record.get("DanhSachGiayTo") or []
    out[attrs.DOCUMENTS_TOTAL] = str(len(documents))
    out[attrs.DOCUMENTS_DIGITISED] = counts(documents, "DuocSoHoa")
    out[attrs.DOCUMENTS_REUSED] = counts(documents, "DuocLayTuKhoDMQG")
    results: list[dict[str, Any]] = f.record.get("DanhSachTepKetQua") or []
    out[attrs.RESULT_FILES] = str(len(results))
    out[attrs.RESULT_FILES_SIGNED] = counts(results, "DuocKySo")

    supplements: list[dict[str, Any]] = f.record.get("DanhSachHoSoBoSung") or []
    out[attrs.SUPPLEMENT_COUNT] = str(len(supplements))
    if supplements:
        last, where = supplements[-1], "DanhSachHoSoBoSung[-1]."
        _time_attr(out, attrs.SUPPLEMENT_REQUESTED_AT, last, "NgayYeuCau", where)
        _time_attr(out, attrs.SUPPLEMENT_RECEIVED_AT, last, "NgayTiepNhanBoSung", where)
        _time_attr(out, attrs.SUPPLEMENT_PREVIOUS_DUE_AT, last, "NgayHenTraTruoc", where)
        _time_attr(out, attrs.SUPPLEMENT_NEW_DUE_AT, last, "NgayHenTraMoi", where)

    letters: list[dict[str, Any]] = f.record.get("DanhSachPhieuXinLoi") or []
    out[attrs.EXTENSION_COUNT] = str(len(letters))
    if letters:
        # Judged against the date before the first letter, tracked against the newest (rule 6).
        where = "DanhSachPhieuXinLoi"
        _time_attr(out, attrs.EXTENSION_PREVIOUS_DUE_AT, letters[0], "NgayHenTraTruoc", where + "[0].")
        _time_attr(out, attrs.EXTENSION_NEW_DUE_AT, letters[-1], "NgayHenTraMoi", where + "[-1].")
    return out


def build(f: Fields, ingested_at: datetime) -> DossierEvent:
    codes = load_mapping(SYSTEM)
    status_code = f.required("TrangThaiHoSo")
    attributes = _attributes(f)
    return DossierEvent(
        dossier_id=f.required("MaHoSo"),
        source=SYSTEM,
        source_event_id=f.required("MaSuKien"),
        source_seq=f.required("SoThuTu"),
        status=codes.status(status_code),
        source_status=str(status_code),
        occurred_at=portal_time(f.required("ThoiDiemThayDoi"), "ThoiDiemThayDoi"),
        ingested_at=ingested_at,
        procedure_code=f.required("MaTTHC"),
        unit_code=f.optional("DonViXuLy"),
        channel=channel(codes, f.optional("KenhThucHien"), attributes),
        due_at=f.time("NgayHenTra", portal_time),
        applicant_ref=f.optional("ChuHoSo"),
        attributes=attributes,
    )


normalise_portal = make_normaliser(SYSTEM, build)
