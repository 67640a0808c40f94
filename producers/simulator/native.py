"""A record as each system would send it: its own field names, codes and identifiers.

The output is the *native* payload (with the applicant's name and identity number, as the source
has them); ``producers.adapters.build_record`` then keeps the schema's fields and pseudonymises
the applicant, exactly as for a real feed. Times stay ``datetime``: each adapter writes them in
its system's format.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from producers.simulator.model import Dossier, SourceRecord
from producers.simulator.vocab import ONE_STOP_LABELS, Step
from streams.model import Channel

# A system's appointment date as it stood at a given time (None before reception).
DueAt = Callable[[datetime], datetime | None]

CHANNEL_CODES: dict[str, dict[Channel, str | int]] = {
    "portal": {Channel.COUNTER: 1, Channel.ONLINE: 2, Channel.POSTAL: 3},
    "onestop": {Channel.COUNTER: "TRUC_TIEP", Channel.ONLINE: "TRUC_TUYEN", Channel.POSTAL: "BUU_CHINH"},
    "civil": {Channel.COUNTER: "trực tiếp", Channel.ONLINE: "trực tuyến", Channel.POSTAL: "bưu chính"},
    "land": {Channel.COUNTER: "MOT_CUA", Channel.ONLINE: "DVC", Channel.POSTAL: "BUU_DIEN"},
    "business": {
        Channel.COUNTER: "PAPER",
        Channel.ONLINE: "ONLINE_DIGITAL_SIGNATURE",
        Channel.POSTAL: "POSTAL",
    },
}
_TICK = timedelta(microseconds=1)  # "just before" an event: the date the event replaced


def event_id(system: str, d: Dossier, rec: SourceRecord) -> str:
    """Stable per record: a resend (duplicate) carries the same id, as the real feeds do."""
    return f"{_PREFIX[system]}-{d.code}-{rec.seq:03d}"


def source_number(system: str, d: Dossier) -> str:
    """The ministry system's own dossier number."""
    year = d.submitted_at.year
    return {"civil": "HT", "land": "VPDK", "business": "DN"}[system] + f"-{year}-{d.index + 1:07d}"


_PREFIX = {"portal": "DVC", "onestop": "MC", "civil": "HT", "land": "DD", "business": "DKKD"}


def _stamp_shift(rec: SourceRecord) -> timedelta:
    """The system's clock error for this record (``stamp`` − true time), applied to its own times."""
    return rec.stamp - rec.event.at


def portal(d: Dossier, rec: SourceRecord, due_at: DueAt) -> dict[str, Any]:
    """The whole dossier as the portal holds it after this change (the portal syncs snapshots)."""
    at = rec.event.at
    shift = _stamp_shift(rec)
    supplements = []
    for p in d.pauses:
        if p.reason != "supplement" or p.start > at:
            continue
        done = p.end is not None and p.end <= at
        supplements.append(
            {
                "NgayYeuCau": p.start + shift,
                "NgayTiepNhanBoSung": p.end + shift if done and p.end else None,
                "NgayHenTraTruoc": due_at(p.start),
                "NgayHenTraMoi": due_at(p.end) if done and p.end else None,
            }
        )
    letters = [
        {"NgayXinLoi": e.at + shift, "NgayHenTraTruoc": due_at(e.at - _TICK), "NgayHenTraMoi": e.new_due}
        for e in d.events
        if e.step == Step.EXTENSION and e.at <= at and e.new_due is not None
    ]
    end = d.ended_at if d.ended_at is not None and d.ended_at <= at else None
    returned = next((e.at for e in d.events if e.step == Step.RETURNED and e.at <= at), None)
    result_ready = any(e.step == Step.RESULT_READY and e.at <= at for e in d.events)
    return {
        "MaSuKien": event_id("portal", d, rec),
        "SoThuTu": rec.seq,
        "ThoiDiemThayDoi": rec.stamp,
        "MaHoSo": d.code,
        "MaTTHC": d.procedure_code,
        "TenTTHC": d.procedure_name,
        "MaLinhVuc": d.field_code,
        "ChuHoSo": d.applicant_name,  # dropped by the adapter; the pseudonym comes from the number
        "SoGiayToChuHoSo": d.applicant_id,
        "SoDienThoaiChuHoSo": d.applicant_phone,  # dropped by the adapter, as the address
        "DiaChiChuHoSo": d.applicant_address,
        "NgayTiepNhan": d.received_at + shift if d.received_at and d.received_at <= at else None,
        "NgayHenTra": rec.due_at,
        "TrangThaiHoSo": rec.code,
        "NgayKetThucXuLy": end + shift if end else None,
        "NgayTra": returned + shift if returned else None,
        "DonViXuLy": rec.unit_code,
        "KenhThucHien": CHANNEL_CODES["portal"][d.channel],
        "DuocThanhToanTrucTuyen": d.paid_online,
        "DanhSachGiayTo": [
            {"MaGiayTo": doc.code, "DuocSoHoa": int(doc.digitised), "DuocLayTuKhoDMQG": int(doc.reused)}
            for doc in d.documents
        ],
        "DanhSachTepKetQua": [
            {"TenTep": f"KQ-{d.code}-{i + 1}.pdf", "DuocKySo": 1} for i in range(d.result_files)
        ]
        if result_ready
        else [],
        "DanhSachHoSoBoSung": supplements,
        "DanhSachPhieuXinLoi": letters,
    }


def onestop(d: Dossier, rec: SourceRecord, due_at: DueAt, recorded_at: datetime) -> dict[str, Any]:
    step = rec.event.step
    change = None
    if step == Step.EXTENSION and rec.event.new_due is not None:
        change = {
            "reason": "APOLOGY_LETTER",
            "previousDate": due_at(rec.event.at - _TICK),
            "newDate": rec.due_at,
        }
    elif step in (Step.SUPPLEMENT_RECEIVED, Step.FINANCIAL_DONE):
        before = due_at(rec.event.at - _TICK)
        if before is not None and rec.due_at is not None and before != rec.due_at:
            change = {"reason": "SUPPLEMENT", "previousDate": before, "newDate": rec.due_at}
    code = str(rec.code)
    return {
        "stepId": event_id("onestop", d, rec),
        "stepSeq": rec.seq,
        "stepCode": code,
        "stepLabel": ONE_STOP_LABELS.get(code),
        "dossierCode": d.code,
        "procedureCode": d.procedure_code,
        "receivingAgency": rec.unit_code,
        "handlingDepartment": rec.unit_code,
        "transferTo": rec.event.transfer_to,
        "receiveChannel": CHANNEL_CODES["onestop"][d.channel],
        "applicant": {
            "fullName": d.applicant_name,
            "idNumber": d.applicant_id,
            "phone": d.applicant_phone,
            "address": d.applicant_address,
        },
        "occurredAt": rec.stamp,
        "recordedAt": recorded_at,
        "appointmentDate": rec.due_at,
        "feePaidOnline": None if d.paid_online is None else d.paid_online > 0,
        "isOverdue": rec.overdue,
        "appointmentChange": change,
        # The desk decides the limit at reception; the system records it from then on.
        "complexCase": d.complex_case
        if d.received_at is not None and rec.event.at >= d.received_at
        else None,
    }


def civil(d: Dossier, rec: SourceRecord) -> dict[str, Any]:
    return {
        "ma_giao_dich": event_id("civil", d, rec),
        "so_ho_so": source_number("civil", d),
        "ma_ho_so_mot_cua": d.code,
        "ma_thu_tuc": d.procedure_code,
        "loai_viec": d.civil_kind,
        "tinh_trang": rec.code,
        "thoi_gian_cap_nhat": rec.stamp,
        "han_tra": rec.due_at,
        "co_quan_dang_ky": rec.unit_code,
        "hinh_thuc_nop": CHANNEL_CODES["civil"][d.channel],
        "nguoi_yeu_cau": {
            "ho_ten": d.applicant_name,
            "so_dinh_danh": d.applicant_id,
            "so_dien_thoai": d.applicant_phone,
            "dia_chi": d.applicant_address,
        },
        "qua_han": rec.overdue,
    }


def land(d: Dossier, rec: SourceRecord, recorded_at: datetime) -> dict[str, Any]:
    return {
        "eventId": event_id("land", d, rec),
        "phienBan": rec.seq,
        "maHoSoDatDai": source_number("land", d),
        "maHoSoMotCua": d.code,
        "maThuTuc": d.procedure_code,
        "trangThai": rec.code,
        "thoiDiem": rec.stamp,
        "thoiDiemGhiNhan": recorded_at,
        "ngayHenTra": rec.due_at,
        "quaHan": rec.overdue,
        "maDonVi": rec.unit_code,
        "nguoiNop": {
            "hoTen": d.applicant_name,
            "soGiayTo": d.applicant_id,
            "soDienThoai": d.applicant_phone,
            "diaChi": d.applicant_address,
        },
        "kenhNop": CHANNEL_CODES["land"][d.channel],
    }


def business(d: Dossier, rec: SourceRecord, recorded_at: datetime) -> dict[str, Any]:
    return {
        "event_id": event_id("business", d, rec),
        "application_no": source_number("business", d),
        "one_stop_code": d.code,
        "procedure_code": d.procedure_code,
        "status_code": rec.code,
        "status_changed_at": rec.stamp,
        "recorded_at": recorded_at,
        "expected_result_at": rec.due_at,
        "registration_office": rec.unit_code,
        "submission_method": CHANNEL_CODES["business"][d.channel],
        "founder": {
            "name": d.applicant_name,
            "id_number": d.applicant_id,
            "phone": d.applicant_phone,
            "address": d.applicant_address,
        },
        "fee_paid_online": None if d.paid_online is None else d.paid_online > 0,
        "revision": rec.seq,
    }


def build_native(
    system: str, d: Dossier, rec: SourceRecord, due_at: DueAt, recorded_at: datetime
) -> dict[str, Any]:
    if system == "portal":
        return portal(d, rec, due_at)
    if system == "onestop":
        return onestop(d, rec, due_at, recorded_at)
    if system == "civil":
        return civil(d, rec)
    if system == "land":
        return land(d, rec, recorded_at)
    if system == "business":
        return business(d, rec, recorded_at)
    raise ValueError(f"no native format for system {system!r}")
