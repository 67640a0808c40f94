"""National Public Service Portal: the sync payload → ``vn.dongbo.src.portal.HoSoEvent``.

Input: the dossier as the portal's sync API sends it (``MaHoSo``, ``TrangThaiHoSo``, ... with the
portal's own names), wrapped with the feed's ``MaSuKien``, ``SoThuTu`` and ``ThoiDiemThayDoi``.
The applicant arrives as ``ChuHoSo`` (a name, dropped) and ``SoGiayToChuHoSo`` (identity number,
pseudonymised into ``ChuHoSo``). Dates may be the portal's strings or aware datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.adapters._common import fmt, portal_format, retime, whitelist
from producers.privacy import Pseudonymiser

SYSTEM = "portal"
SCHEMA = "vn.dongbo.src.portal.HoSoEvent"
_DATES = ("ThoiDiemThayDoi", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra")
_SUPPLEMENT_DATES = ("NgayYeuCau", "NgayTiepNhanBoSung", "NgayHenTraTruoc", "NgayHenTraMoi")
_LETTER_DATES = ("NgayXinLoi", "NgayHenTraTruoc", "NgayHenTraMoi")


def _flag(value: Any) -> int:
    """The portal's 0/1 flags; True / "1" from other exporters count too."""
    return 1 if value in (1, True, "1") else 0


def build_record(native: Mapping[str, Any], pseudonymiser: Pseudonymiser) -> dict[str, Any]:
    record = whitelist(SCHEMA, native)
    record["ChuHoSo"] = pseudonymiser.ref_or_none(native.get("SoGiayToChuHoSo"))
    retime(record, _DATES, portal_format)
    for name in ("TrangThaiHoSo", "KenhThucHien"):
        record[name] = int(record[name])
    if record.get("DuocThanhToanTrucTuyen") is not None:
        record["DuocThanhToanTrucTuyen"] = int(record["DuocThanhToanTrucTuyen"])
    record["DanhSachGiayTo"] = [
        {**doc, "DuocSoHoa": _flag(doc["DuocSoHoa"]), "DuocLayTuKhoDMQG": _flag(doc["DuocLayTuKhoDMQG"])}
        for doc in record["DanhSachGiayTo"]
    ]
    record["DanhSachTepKetQua"] = [
        {**file, "DuocKySo": _flag(file["DuocKySo"])} for file in record["DanhSachTepKetQua"]
    ]
    record["DanhSachHoSoBoSung"] = [
        {k: fmt(v, portal_format) if k in _SUPPLEMENT_DATES else v for k, v in item.items()}
        for item in record["DanhSachHoSoBoSung"]
    ]
    record["DanhSachPhieuXinLoi"] = [
        {k: fmt(v, portal_format) if k in _LETTER_DATES else v for k, v in item.items()}
        for item in record["DanhSachPhieuXinLoi"]
    ]
    return record
