"""National Public Service Portal → canonical events.

The portal syncs the whole dossier after each change, so one event also carries what the
Decision 766 indicators need (payment, documents, result files) and the supplement and apology
history. The moments the merge rules depend on (the receipt, the end of processing, the latest
supplement request, the latest apology letter's new date) are typed fields of the event; the rest
go into ``attributes`` (keys in ``attrs``).
"""

from __future__ import annotations

from dataclasses import dataclass
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


def _time(item: dict[str, Any], name: str, where: str = "") -> datetime | None:
    """The portal date ``item[name]``, when it is set."""
    value = item.get(name)
    return portal_time(value, where + name) if value else None


def _time_attr(out: dict[str, str], key: str, item: dict[str, Any], name: str, where: str = "") -> None:
    """``out[key]`` = the portal date ``item[name]`` in ISO form, when it is set."""
    if (when := _time(item, name, where)) is not None:
        out[key] = vn_iso(when)


@dataclass(frozen=True)
class _Stated:
    """The moments a portal record states besides its own change (typed fields of the event)."""

    received_at: datetime | None
    ended_at: datetime | None
    supplement_requested_at: datetime | None
    supplement_received_at: datetime | None
    extended_due_at: datetime | None


def _stated(f: Fields) -> _Stated:
    supplements: list[dict[str, Any]] = f.record.get("DanhSachHoSoBoSung") or []
    last = supplements[-1] if supplements else {}
    letters: list[dict[str, Any]] = f.record.get("DanhSachPhieuXinLoi") or []
    return _Stated(
        received_at=_time(f.record, "NgayTiepNhan"),
        ended_at=_time(f.record, "NgayKetThucXuLy"),
        supplement_requested_at=_time(last, "NgayYeuCau", "DanhSachHoSoBoSung[-1]."),
        supplement_received_at=_time(last, "NgayTiepNhanBoSung", "DanhSachHoSoBoSung[-1]."),
        # Tracked against the newest letter (rule 6); judged against the date before the first.
        extended_due_at=_time(letters[-1], "NgayHenTraMoi", "DanhSachPhieuXinLoi[-1].") if letters else None,
    )


def _attributes(f: Fields) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, name in ((attrs.PROCEDURE_NAME, "TenTTHC"), (attrs.FIELD_CODE, "MaLinhVuc")):
        if (value := f.optional(name)) is not None:
            out[key] = value
    _time_attr(out, attrs.RETURNED_AT, f.record, "NgayTra")

    paid = f.optional("DuocThanhToanTrucTuyen")
    if paid is not None:  # absent: a procedure with no fee, nothing to pay (not "false": attrs.py)
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
        _time_attr(out, attrs.SUPPLEMENT_PREVIOUS_DUE_AT, last, "NgayHenTraTruoc", where)
        _time_attr(out, attrs.SUPPLEMENT_NEW_DUE_AT, last, "NgayHenTraMoi", where)

    letters: list[dict[str, Any]] = f.record.get("DanhSachPhieuXinLoi") or []
    out[attrs.EXTENSION_COUNT] = str(len(letters))
    if letters:
        # Judged against the date before the first letter (rule 6); the newest date is typed.
        _time_attr(
            out, attrs.EXTENSION_PREVIOUS_DUE_AT, letters[0], "NgayHenTraTruoc", "DanhSachPhieuXinLoi[0]."
        )
    return out


def build(f: Fields, ingested_at: datetime) -> DossierEvent:
    codes = load_mapping(SYSTEM)
    status_code = f.required("TrangThaiHoSo")
    attributes = _attributes(f)
    stated = _stated(f)
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
        stated_received_at=stated.received_at,
        stated_ended_at=stated.ended_at,
        stated_supplement_requested_at=stated.supplement_requested_at,
        stated_supplement_received_at=stated.supplement_received_at,
        extended_due_at=stated.extended_due_at,
        attributes=attributes,
    )


normalise_portal = make_normaliser(SYSTEM, build)
