"""Normalisation of every source, exhaustively: every code, every error reason, every format.

The expected tables below are a second, independent statement of each source's vocabulary (the
YAML maps are the first): changing a map means changing both, on purpose.
"""

from __future__ import annotations

import dataclasses
import io
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.adapters import ADAPTERS, build_record, dossier_key, encode_raw
from producers.privacy import Pseudonymiser, canonical_identifier, pseudonymise
from schemas import codec
from streams.model import LEGACY_ATTRIBUTES, VN_TZ, Channel, DossierEvent, Status, event_id_for
from streams.normalise import (
    DEFAULT_MAX_SKEW,
    NORMALISERS,
    RAW_SCHEMAS,
    REASONS,
    NormaliseError,
    attrs,
    normalise,
    source_of_topic,
)
from streams.normalise.mapping import code_key, load_mapping, parse_mapping
from streams.normalise.timeparse import epoch_millis, iso_time, portal_time, vn_dmy_time

S = Status
KEY = Pseudonymiser("test-key")
CCCD = "079095001234"
DOSSIER = "000.00.15.H17-251125-0001"
T0 = datetime(2025, 11, 25, 9, 15, tzinfo=VN_TZ)  # Tuesday 09:15 in Da Nang
INGESTED = T0 + timedelta(minutes=2)

EXPECTED_STATUS: dict[str, dict[str, Status]] = {
    "portal": {
        "1": S.SUBMITTED,
        "2": S.RECEIVED,
        "3": S.REJECTED,
        "4": S.IN_PROGRESS,
        "5": S.SUPPLEMENT_REQUESTED,
        "6": S.FINANCIAL_OBLIGATION,
        "7": S.WITHDRAWN,
        "8": S.STOPPED,
        "9": S.RESULT_READY,
        "10": S.RETURNED,
    },
    "onestop": {
        "ONLINE_SUBMITTED": S.SUBMITTED,
        "RECEPTION": S.RECEIVED,
        "ASSIGNMENT": S.IN_PROGRESS,
        "DEPT_PROCESSING": S.IN_PROGRESS,
        "TRANSFER_OUT": S.TRANSFERRED,
        "TRANSFER_BACK": S.IN_PROGRESS,
        "APPROVAL": S.IN_PROGRESS,
        "SIGNING": S.IN_PROGRESS,
        "RESULT_AT_DESK": S.RESULT_READY,
        "RETURNED": S.RETURNED,
        "SUPPLEMENT_REQUEST": S.SUPPLEMENT_REQUESTED,
        "SUPPLEMENT_RECEIVED": S.SUPPLEMENT_RECEIVED,
        "FINANCIAL_OBLIGATION": S.FINANCIAL_OBLIGATION,
        "FINANCIAL_OBLIGATION_DONE": S.IN_PROGRESS,
        "PAUSED": S.SUSPENDED,
        "RESUMED": S.IN_PROGRESS,
        "REJECTION": S.REJECTED,
        "STOPPED": S.STOPPED,
        "WITHDRAWAL": S.WITHDRAWN,
        "CANCELLATION": S.CANCELLED,
    },
    "civil": {
        "chờ tiếp nhận": S.SUBMITTED,
        "đã tiếp nhận": S.RECEIVED,
        "đang xử lý": S.IN_PROGRESS,
        "đang xác minh": S.IN_PROGRESS,
        "yêu cầu bổ sung": S.SUPPLEMENT_REQUESTED,
        "đã bổ sung": S.SUPPLEMENT_RECEIVED,
        "chờ nộp lệ phí": S.FINANCIAL_OBLIGATION,
        "chuyển liên thông": S.TRANSFERRED,
        "đã đăng ký": S.IN_PROGRESS,
        "đã cấp trích lục": S.RESULT_READY,
        "đã trả kết quả": S.RETURNED,
        "từ chối": S.REJECTED,
        "công dân rút hồ sơ": S.WITHDRAWN,
        "dừng xử lý": S.STOPPED,
        "đã hủy": S.CANCELLED,
    },
    "land": {
        "TIEP_NHAN": S.RECEIVED,
        "THAM_DINH": S.IN_PROGRESS,
        "DO_DAC": S.IN_PROGRESS,
        "CHUYEN_THUE": S.TRANSFERRED,
        "CHO_NVTC": S.FINANCIAL_OBLIGATION,
        "DA_NOP_NVTC": S.IN_PROGRESS,
        "YC_BO_SUNG": S.SUPPLEMENT_REQUESTED,
        "DA_BO_SUNG": S.SUPPLEMENT_RECEIVED,
        "TRINH_KY": S.IN_PROGRESS,
        "TAM_DUNG": S.SUSPENDED,
        "CAP_GCN": S.RESULT_READY,
        "DA_TRA": S.RETURNED,
        "TRA_LAI": S.REJECTED,
        "RUT_HS": S.WITHDRAWN,
        "HUY_HS": S.CANCELLED,
    },
    "business": {
        "SUBMITTED": S.SUBMITTED,
        "RECEIVED": S.RECEIVED,
        "PROCESSING": S.IN_PROGRESS,
        "AMENDMENT_REQUIRED": S.SUPPLEMENT_REQUESTED,
        "AMENDMENT_SUBMITTED": S.SUPPLEMENT_RECEIVED,
        "APPROVED": S.RESULT_READY,
        "DELIVERED": S.RETURNED,
        "REFUSED": S.REJECTED,
        "WITHDRAWN": S.WITHDRAWN,
        "CANCELLED": S.CANCELLED,
    },
}
ALIASES = {"civil": {"từ chối tiếp nhận": S.REJECTED, "đã rút hồ sơ": S.WITHDRAWN, "đã huỷ": S.CANCELLED}}

EXPECTED_CHANNEL: dict[str, dict[str, Channel]] = {
    "portal": {"1": Channel.COUNTER, "2": Channel.ONLINE, "3": Channel.POSTAL},
    "onestop": {"TRUC_TIEP": Channel.COUNTER, "TRUC_TUYEN": Channel.ONLINE, "BUU_CHINH": Channel.POSTAL},
    "civil": {"trực tiếp": Channel.COUNTER, "trực tuyến": Channel.ONLINE, "bưu chính": Channel.POSTAL},
    "land": {"MOT_CUA": Channel.COUNTER, "DVC": Channel.ONLINE, "BUU_DIEN": Channel.POSTAL},
    "business": {
        "PAPER": Channel.COUNTER,
        "ONLINE_DIGITAL_SIGNATURE": Channel.ONLINE,
        "ONLINE_BUSINESS_ACCOUNT": Channel.ONLINE,
        "POSTAL": Channel.POSTAL,
    },
}
SOURCES = tuple(EXPECTED_STATUS)


# --- native payloads, as each source sends them -------------------------------------------------


def native(system: str, status: Any = None, channel: Any = None, **over: Any) -> dict[str, Any]:
    """A minimal but complete payload of ``system``, with personal data the adapter must drop."""
    status = status if status is not None else next(iter(EXPECTED_STATUS[system]))
    channel = channel if channel is not None else next(iter(EXPECTED_CHANNEL[system]))
    due = T0 + timedelta(days=3)
    base: dict[str, Any]
    if system == "portal":
        base = {
            "MaSuKien": "ps-1",
            "SoThuTu": 1,
            "ThoiDiemThayDoi": T0,
            "MaHoSo": DOSSIER,
            "MaTTHC": "1.001193",
            "ChuHoSo": "Nguyễn Văn An",
            "SoGiayToChuHoSo": CCCD,
            "SoDienThoai": "0905123456",
            "NgayTiepNhan": T0,
            "NgayHenTra": due,
            "TrangThaiHoSo": int(status),
            "KenhThucHien": int(channel),
        }
    elif system == "onestop":
        base = {
            "stepId": "os-1",
            "stepSeq": 1,
            "stepCode": status,
            "dossierCode": DOSSIER,
            "procedureCode": "1.001193",
            "receivingAgency": "000.00.15.H17",
            "receiveChannel": channel,
            "applicant": {"fullName": "Nguyễn Văn An", "idNumber": CCCD, "phone": "0905123456"},
            "occurredAt": T0,
            "appointmentDate": due,
            "isOverdue": False,
        }
    elif system == "civil":
        base = {
            "ma_giao_dich": "cv-1",
            "so_ho_so": "HT-2025-000123",
            "ma_ho_so_mot_cua": DOSSIER,
            "ma_thu_tuc": "1.001193",
            "loai_viec": "khai_sinh",
            "tinh_trang": status,
            "thoi_gian_cap_nhat": T0,
            "han_tra": due,
            "hinh_thuc_nop": channel,
            "nguoi_yeu_cau": {"ho_ten": "Nguyễn Văn An", "so_dinh_danh": CCCD},
        }
    elif system == "land":
        base = {
            "eventId": "ld-1",
            "phienBan": 1,
            "maHoSoDatDai": "VPDK-2025-7788",
            "maHoSoMotCua": DOSSIER,
            "trangThai": status,
            "thoiDiem": T0,
            "ngayHenTra": due,
            "kenhNop": channel,
            "nguoiNop": {"hoTen": "Nguyễn Văn An", "soGiayTo": CCCD},
        }
    else:
        base = {
            "event_id": "bz-1",
            "application_no": "DN-2025-4455",
            "one_stop_code": DOSSIER,
            "procedure_code": "1.010005",
            "status_code": status,
            "status_changed_at": T0,
            "expected_result_at": due,
            "submission_method": channel,
            "founder": {"name": "Nguyễn Văn An", "id_number": CCCD},
            "revision": 1,
        }
    base.update(over)
    return base


def raw_bytes(system: str, **kw: Any) -> bytes:
    return encode_raw(system, build_record(system, native(system, **kw), KEY))


def run(system: str, **kw: Any) -> DossierEvent:
    return normalise(system, raw_bytes(system, **kw), INGESTED)


def encode_version_2(record: dict[str, Any]) -> bytes:
    """A canonical event as a producer of DossierEvent version 2 framed it (attributes only)."""
    old = codec._load(codec.AVRO_DIR / "versions" / "2" / "vn.dongbo.DossierEvent.avsc")
    out = io.BytesIO()
    out.write(codec.MARKER + old.fingerprint)
    fastavro.schemaless_writer(out, old.parsed, record)
    return out.getvalue()


def reason_of(system: str, raw: Any, ingested: datetime = INGESTED, **kw: Any) -> str:
    with pytest.raises(NormaliseError) as info:
        normalise(system, raw, ingested, **kw)
    assert info.value.detail
    return info.value.reason


# --- the maps, code by code --------------------------------------------------------------------


def test_every_source_has_a_map_a_normaliser_and_an_adapter() -> None:
    assert set(SOURCES) <= set(NORMALISERS) and set(SOURCES) == set(ADAPTERS)
    assert set(NORMALISERS) == set(RAW_SCHEMAS)


@pytest.mark.parametrize("system", SOURCES)
def test_map_file_states_exactly_the_expected_vocabulary(system: str) -> None:
    codes = load_mapping(system)
    assert {e.code: Status(e.target) for e in codes.codes()} == EXPECTED_STATUS[system]
    assert all(e.meaning for e in codes.codes()), "every code carries its Vietnamese meaning"
    assert {e.code: Channel(e.target) for e in codes.channels.values()} == EXPECTED_CHANNEL[system]


WALK = [(system, code, status) for system, m in EXPECTED_STATUS.items() for code, status in m.items()]
WALK += [(system, code, status) for system, m in ALIASES.items() for code, status in m.items()]


@pytest.mark.parametrize(("system", "code", "expected"), WALK, ids=[f"{s}:{c}" for s, c, _ in WALK])
def test_every_code_of_every_source_reaches_its_canonical_status(
    system: str, code: str, expected: Status
) -> None:
    event = run(system, status=code)
    assert event.status is expected
    assert event.source == system and event.source_status == code
    assert event.dossier_id == DOSSIER


MAIN_PATH = {S.SUBMITTED, S.RECEIVED, S.SUPPLEMENT_REQUESTED, S.IN_PROGRESS, S.RESULT_READY, S.RETURNED}


def test_portal_and_onestop_maps_together_produce_every_canonical_status() -> None:
    produced = set(EXPECTED_STATUS["portal"].values()) | set(EXPECTED_STATUS["onestop"].values())
    assert produced == set(Status)
    assert set(EXPECTED_STATUS["onestop"].values()) == set(Status), "the city workflow knows every state"
    for system in ("portal", "onestop"):
        assert MAIN_PATH | {S.REJECTED, S.WITHDRAWN} <= set(EXPECTED_STATUS[system].values()), system


@pytest.mark.parametrize("system", ["civil", "land", "business"])
def test_ministry_maps_cover_the_lifecycle_core(system: str) -> None:
    produced = set(EXPECTED_STATUS[system].values())
    assert {
        S.RECEIVED,
        S.IN_PROGRESS,
        S.SUPPLEMENT_REQUESTED,
        S.RESULT_READY,
        S.RETURNED,
        S.REJECTED,
    } <= produced


@pytest.mark.parametrize(
    "spelling", ["ĐÃ TIẾP NHẬN", "  Đã   tiếp nhận ", unicodedata.normalize("NFD", "đã tiếp nhận")]
)
def test_civil_text_matches_whatever_case_spacing_or_unicode_form(spelling: str) -> None:
    event = run("civil", status=spelling)
    assert event.status is S.RECEIVED
    assert event.source_status == spelling.strip()


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [(s, c, ch) for s, m in EXPECTED_CHANNEL.items() for c, ch in m.items()],
)
def test_every_channel_code_maps(system: str, code: str, expected: Channel) -> None:
    event = run(system, channel=code)
    assert event.channel is expected
    assert attrs.SOURCE_CHANNEL not in event.attributes


@pytest.mark.parametrize(("system", "code"), [("portal", "9"), ("onestop", "KIOSK"), ("land", "ZALO")])
def test_an_unknown_channel_is_unknown_and_kept(system: str, code: str) -> None:
    event = run(system, channel=code)
    assert event.channel is Channel.UNKNOWN
    assert event.attributes[attrs.SOURCE_CHANNEL] == code


def test_a_missing_channel_is_unknown() -> None:
    assert normalise(
        "civil", build_record("civil", native("civil", hinh_thuc_nop=None), KEY), INGESTED
    ).channel is (Channel.UNKNOWN)


@pytest.mark.parametrize(
    "text",
    [
        "system: portal\nstatus_field: X\nstatuses:\n  1: {status: DONE, meaning: m}\n",  # no such status
        "system: portal\nstatus_field: X\nstatuses:\n  1: {status: RECEIVED}\n",  # no meaning
        "system: portal\nstatus_field: X\nstatuses:\n  1: {status: RECEIVED, meaning: a}\n"
        "  1: {status: RETURNED, meaning: b}\n",  # the same code twice (PyYAML would keep the last)
        "system: civil\nstatus_field: X\nstatuses:\n  Đã: {status: RECEIVED, meaning: a}\n"
        "  đã: {status: RETURNED, meaning: b}\n",  # equal once case-folded
        "system: land\nstatus_field: X\nstatuses:\n  1: {status: RECEIVED, meaning: a}\n",  # wrong system
        "system: portal\nstatus_field: X\nstatuses:\n  1: {status: RECEIVED, meaning: a}\n"
        "channels:\n  1: {channel: FAX, meaning: a}\n",  # no such channel
    ],
)
def test_a_wrong_map_fails_when_loaded(text: str) -> None:
    with pytest.raises(Exception, match=r"\S"):
        parse_mapping("portal", text)


def test_code_key_folds_case_space_and_unicode_form() -> None:
    assert code_key(" ĐÃ  Hủy ") == code_key(unicodedata.normalize("NFD", "đã hủy")) == "đã hủy"
    assert code_key(5) == "5"


# --- each source's fields ------------------------------------------------------------------------


def test_portal_event_carries_everything_the_indicators_need() -> None:
    payload = native(
        "portal",
        status="9",
        SoThuTu=7,
        TenTTHC="Đăng ký khai sinh",
        MaLinhVuc="G09-TP01",
        DonViXuLy="000.00.15.H17",
        NgayKetThucXuLy=T0,
        DuocThanhToanTrucTuyen=2,
        DanhSachGiayTo=[
            {"MaGiayTo": "GT1", "DuocSoHoa": 1, "DuocLayTuKhoDMQG": 1},
            {"MaGiayTo": "GT2", "DuocSoHoa": True, "DuocLayTuKhoDMQG": 0},
            {"MaGiayTo": "GT3", "DuocSoHoa": 0, "DuocLayTuKhoDMQG": 0},
        ],
        DanhSachTepKetQua=[{"TenTep": "trich-luc.pdf", "DuocKySo": 1}],
        DanhSachHoSoBoSung=[
            {"NgayYeuCau": "20251120100000", "NgayHenTraTruoc": "20251122170000", "NgayHenTraMoi": None},
            {
                "NgayYeuCau": "20251121100000",
                "NgayTiepNhanBoSung": "20251122080000",
                "NgayHenTraTruoc": "20251123170000",
                "NgayHenTraMoi": "20251126170000",
            },
        ],
        DanhSachPhieuXinLoi=[
            {
                "NgayXinLoi": "20251124100000",
                "NgayHenTraTruoc": "20251126170000",
                "NgayHenTraMoi": "20251127170000",
            },
            {
                "NgayXinLoi": "20251127100000",
                "NgayHenTraTruoc": "20251127170000",
                "NgayHenTraMoi": "20251128170000",
            },
        ],
    )
    event = normalise("portal", encode_raw("portal", build_record("portal", payload, KEY)), INGESTED)
    assert event.status is S.RESULT_READY and event.source_seq == 7
    assert event.occurred_at == T0 and event.due_at == T0 + timedelta(days=3)
    assert event.procedure_code == "1.001193" and event.unit_code == "000.00.15.H17"
    assert event.channel is Channel.COUNTER and event.applicant_ref == KEY.ref(CCCD)
    assert event.attributes == {
        attrs.PROCEDURE_NAME: "Đăng ký khai sinh",
        attrs.FIELD_CODE: "G09-TP01",
        attrs.PAID_ONLINE: "true",
        attrs.PAYMENT_GATEWAY: "local",
        attrs.DOCUMENTS_TOTAL: "3",
        attrs.DOCUMENTS_DIGITISED: "2",
        attrs.DOCUMENTS_REUSED: "1",
        attrs.RESULT_FILES: "1",
        attrs.RESULT_FILES_SIGNED: "1",
        attrs.SUPPLEMENT_COUNT: "2",
        attrs.SUPPLEMENT_PREVIOUS_DUE_AT: "2025-11-23T17:00:00+07:00",
        attrs.SUPPLEMENT_NEW_DUE_AT: "2025-11-26T17:00:00+07:00",
        attrs.EXTENSION_COUNT: "2",
        attrs.EXTENSION_PREVIOUS_DUE_AT: "2025-11-26T17:00:00+07:00",
    }
    # What the merge rules depend on is typed: the receipt and end restated, the latest supplement
    # request's dates, the latest apology letter's new date.
    assert event.stated_received_at == T0 and event.stated_ended_at == T0
    assert event.stated_supplement_requested_at == datetime(2025, 11, 21, 10, 0, tzinfo=VN_TZ)
    assert event.stated_supplement_received_at == datetime(2025, 11, 22, 8, 0, tzinfo=VN_TZ)
    assert event.extended_due_at == datetime(2025, 11, 28, 17, 0, tzinfo=VN_TZ)
    assert event.complex_case is None  # the portal does not say


def test_portal_states_only_what_it_has() -> None:
    event = run("portal", NgayTiepNhan=None, DanhSachHoSoBoSung=[{"NgayYeuCau": "20251121100000"}])
    assert event.stated_received_at is None and event.stated_ended_at is None
    assert event.stated_supplement_requested_at == datetime(2025, 11, 21, 10, 0, tzinfo=VN_TZ)
    assert event.stated_supplement_received_at is None and event.extended_due_at is None


def test_a_bad_stated_portal_date_is_bad_timestamp_not_dropped() -> None:
    bad = {"NgayYeuCau": "2025-11-21"}
    assert reason_of("portal", raw_bytes("portal", DanhSachHoSoBoSung=[bad])) == "bad_timestamp"
    assert reason_of("portal", raw_bytes("portal", NgayKetThucXuLy="yesterday")) == "bad_timestamp"


@pytest.mark.parametrize("system", SOURCES)
def test_no_normaliser_writes_the_legacy_attributes(system: str) -> None:
    extra: dict[str, Any] = {}
    if system == "portal":
        extra = {
            "NgayKetThucXuLy": T0,
            "DanhSachHoSoBoSung": [{"NgayYeuCau": "20251121100000", "NgayTiepNhanBoSung": "20251122080000"}],
            "DanhSachPhieuXinLoi": [
                {
                    "NgayXinLoi": "20251124100000",
                    "NgayHenTraTruoc": "20251126170000",
                    "NgayHenTraMoi": "20251127170000",
                }
            ],
        }
    elif system == "onestop":
        change = {"reason": "APOLOGY_LETTER", "previousDate": T0, "newDate": "2025-11-28T17:00:00+07:00"}
        extra = {"complexCase": True, "appointmentChange": change}
    event = run(system, **extra)
    assert set(event.attributes) & set(LEGACY_ATTRIBUTES) == set()


def test_portal_not_paid_online_says_so() -> None:
    event = run("portal", DuocThanhToanTrucTuyen=0)
    assert event.attributes[attrs.PAID_ONLINE] == "false"
    assert attrs.PAYMENT_GATEWAY not in event.attributes
    # Absent: a procedure with no fee. "Not reported", never "false" (indicator 3.6 counts only
    # dossiers with a fee).
    event = run("portal", DuocThanhToanTrucTuyen=None)
    assert attrs.PAID_ONLINE not in event.attributes and attrs.PAYMENT_GATEWAY not in event.attributes


def test_onestop_supplement_appointment_change() -> None:
    change = {"reason": "SUPPLEMENT", "previousDate": T0, "newDate": "2025-11-28T17:00:00+07:00"}
    event = run("onestop", status="DEPT_PROCESSING", appointmentChange=change, feePaidOnline=True)
    assert event.attributes[attrs.SUPPLEMENT_PREVIOUS_DUE_AT] == "2025-11-25T09:15:00+07:00"
    assert event.attributes[attrs.SUPPLEMENT_NEW_DUE_AT] == "2025-11-28T17:00:00+07:00"
    assert event.attributes[attrs.PAID_ONLINE] == "true"
    assert event.extended_due_at is None, "a supplement's new date is no apology letter's"


def test_onestop_apology_letter_new_date_is_typed() -> None:
    change = {"reason": "apology_letter ", "previousDate": T0, "newDate": "2025-11-28T17:00:00+07:00"}
    event = run("onestop", status="DEPT_PROCESSING", appointmentChange=change)
    assert event.attributes[attrs.EXTENSION_PREVIOUS_DUE_AT] == "2025-11-25T09:15:00+07:00"
    assert event.extended_due_at == datetime(2025, 11, 28, 17, 0, tzinfo=VN_TZ)
    other = run("onestop", appointmentChange={**change, "reason": "OTHER"})
    assert other.extended_due_at is None and attrs.EXTENSION_PREVIOUS_DUE_AT not in other.attributes
    bad = {**change, "newDate": "28/11/2025"}
    assert reason_of("onestop", raw_bytes("onestop", appointmentChange=bad)) == "bad_timestamp"


@pytest.mark.parametrize("flag", [True, False, None])
def test_onestop_complex_case_is_typed(flag: bool | None) -> None:
    event = run("onestop", complexCase=flag)
    assert event.complex_case is flag


def test_onestop_fields() -> None:
    event = run(
        "onestop",
        status="TRANSFER_OUT",
        stepSeq=4,
        transferTo="STNMT",
        handlingDepartment="PTNMT",
        stepLabel="Chuyển Sở TN&MT",
        recordedAt="2025-11-25T09:16:00+07:00",
        isOverdue=True,
    )
    assert (event.status, event.source_seq, event.overdue) == (S.TRANSFERRED, 4, True)
    assert event.recorded_at == T0 + timedelta(minutes=1)
    assert event.unit_code == "000.00.15.H17"
    assert event.attributes == {
        attrs.TRANSFER_TO: "STNMT",
        attrs.HANDLING_DEPARTMENT: "PTNMT",
        attrs.STEP_LABEL: "Chuyển Sở TN&MT",
    }
    assert (event.extended_due_at, event.complex_case, event.stated_received_at) == (None, None, None)


@pytest.mark.parametrize(
    ("system", "own_ref"),
    [("civil", "HT-2025-000123"), ("land", "VPDK-2025-7788"), ("business", "DN-2025-4455")],
)
def test_ministry_events_join_the_one_stop_dossier_and_keep_their_own_number(
    system: str, own_ref: str
) -> None:
    event = run(system)
    assert event.dossier_id == DOSSIER
    assert event.attributes[attrs.SOURCE_DOSSIER_REF] == own_ref
    assert event.occurred_at == T0 and event.due_at == T0 + timedelta(days=3)
    assert event.applicant_ref == KEY.ref(CCCD)


def test_land_and_business_sequence_and_flags() -> None:
    land = run("land", phienBan=9, quaHan=True, thoiDiemGhiNhan=T0 + timedelta(seconds=30))
    assert (land.source_seq, land.overdue, land.recorded_at) == (9, True, T0 + timedelta(seconds=30))
    business = run("business", revision=None, fee_paid_online=False)
    assert business.source_seq is None and business.attributes[attrs.PAID_ONLINE] == "false"


def test_event_id_is_deterministic_from_source_and_source_event_id() -> None:
    first, again = run("portal"), run("portal", SoThuTu=1)
    assert first.event_id == again.event_id == event_id_for("portal", "ps-1")
    assert run("portal", MaSuKien="ps-2").event_id != first.event_id
    assert run("onestop", stepId="ps-1").event_id != first.event_id, "the source is part of the id"


def test_a_dict_is_normalised_like_its_bytes() -> None:
    for system in SOURCES:
        record = build_record(system, native(system), KEY)
        assert normalise(system, record, INGESTED) == normalise(system, encode_raw(system, record), INGESTED)


def test_imported_canonical_events_get_a_fresh_ingestion_time_and_their_deterministic_id() -> None:
    event = DossierEvent(
        dossier_id=DOSSIER,
        source="portal",
        source_event_id="xes-17",
        status=S.RECEIVED,
        occurred_at=T0,
        ingested_at=T0 - timedelta(days=30),
        event_id="forged",
    )
    out = normalise("import", codec.encode("vn.dongbo.DossierEvent", event.to_record()), INGESTED)
    assert out.ingested_at == INGESTED and out.event_id == event_id_for("portal", "xes-17")
    assert (out.dossier_id, out.status, out.occurred_at) == (DOSSIER, S.RECEIVED, T0)


def test_an_imported_record_of_version_2_has_its_legacy_attributes_read_into_the_typed_fields() -> None:
    # File imports published before the typed fields stated these moments as attribute strings.
    event = DossierEvent(DOSSIER, "portal", "csv-2", S.IN_PROGRESS, occurred_at=T0, ingested_at=T0)
    legacy = {"received_at": "2025-11-25T09:15:00+07:00", "complex_case": "true", "step_label": "x"}
    record = {k: v for k, v in event.to_record().items() if k not in LEGACY_ATTRIBUTES.values()}
    out = normalise("import", encode_version_2(record | {"attributes": legacy}), INGESTED)
    assert (out.stated_received_at, out.complex_case, out.attributes) == (T0, True, {"step_label": "x"})
    malformed = record | {"attributes": {"extension_new_due_at": "28/11/2025"}}
    assert reason_of("import", encode_version_2(malformed)) == "bad_timestamp"


def test_an_imported_dict_with_a_naive_time_is_bad_timestamp() -> None:
    event = DossierEvent(DOSSIER, "portal", "csv-1", S.RECEIVED, occurred_at=T0, ingested_at=T0)
    record = {**event.to_record(), "occurred_at": datetime(2025, 11, 25, 9, 15)}
    assert reason_of("import", record) == "bad_timestamp"


def test_a_naive_ingestion_time_is_a_bug_not_bad_input() -> None:
    with pytest.raises(ValueError, match="offset"):
        normalise("portal", raw_bytes("portal"), datetime(2025, 11, 25, 9, 20))


# --- dates ---------------------------------------------------------------------------------------


def test_portal_dates_are_local_time_in_vietnam() -> None:
    assert portal_time("20251125091500", "f") == datetime(2025, 11, 25, 2, 15, tzinfo=UTC)
    assert portal_time("20260101000000", "f") == datetime(2025, 12, 31, 17, 0, tzinfo=UTC)


def test_other_formats() -> None:
    assert vn_dmy_time("25/11/2025 09:15:00", "f") == T0
    assert iso_time("2025-11-25T09:15:00+07:00", "f") == T0
    assert iso_time("2025-11-25T02:15:00Z", "f") == T0
    assert epoch_millis(1764036900000, "f") == T0


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (portal_time, "2025112509150"),  # 13 digits
        (portal_time, "20251325091500"),  # month 13
        (portal_time, "20250230091500"),  # 30 February
        (portal_time, "20251125251500"),  # hour 25
        (portal_time, "2025-11-25 09:15"),
        (portal_time, "19700101070000"),  # an unset clock
        (vn_dmy_time, "2025-11-25 09:15:00"),
        (vn_dmy_time, "31/11/2025 09:15:00"),
        (iso_time, "2025-11-25T09:15:00"),  # no offset: a timezone bug upstream
        (iso_time, "yesterday"),
        (epoch_millis, 0),
        (epoch_millis, 10**20),
    ],
)
def test_bad_times_are_bad_timestamp(parse: Any, value: Any) -> None:
    with pytest.raises(NormaliseError) as info:
        parse(value, "field")
    assert info.value.reason == "bad_timestamp" and "field" in info.value.detail


# --- every error reason -------------------------------------------------------------------------


def test_undecodable() -> None:
    assert reason_of("portal", b"not avro at all") == "undecodable"
    good = raw_bytes("portal")
    assert reason_of("portal", good[:12]) == "undecodable"  # truncated body
    record = build_record("portal", native("portal"), KEY)
    assert reason_of("portal", {**record, "TrangThaiHoSo": "năm"}) == "undecodable"  # wrong type


def test_unknown_schema() -> None:
    unknown = codec.MARKER + b"\x00" * 8 + b"\x02"
    assert reason_of("portal", unknown) == "unknown_schema"
    # Another source's record on this topic (misrouted): not silently read as a portal event.
    assert reason_of("portal", raw_bytes("onestop")) == "unknown_schema"


def test_missing_field() -> None:
    assert reason_of("civil", raw_bytes("civil", ma_ho_so_mot_cua=None)) == "missing_field"
    assert reason_of("land", raw_bytes("land", maHoSoMotCua="  ")) == "missing_field"
    record = build_record("portal", native("portal"), KEY)
    del record["MaHoSo"]
    assert reason_of("portal", record) == "missing_field"


def test_unknown_source() -> None:
    assert reason_of("fax", raw_bytes("portal")) == "unknown_source"


@pytest.mark.parametrize(
    ("system", "code"), [("portal", 11), ("onestop", "ARCHIVED"), ("civil", "đã lưu trữ")]
)
def test_unknown_status(system: str, code: Any) -> None:
    assert reason_of(system, raw_bytes(system, status=code)) == "unknown_status"


def test_future_timestamp_and_its_configurable_skew() -> None:
    ingested = T0 - DEFAULT_MAX_SKEW  # the event happened exactly the allowed skew after arrival
    assert timedelta(days=1) == DEFAULT_MAX_SKEW
    # A clock hours ahead, or a wrong time zone, is a disagreement to explain, not bad input.
    assert normalise("portal", raw_bytes("portal"), T0 - timedelta(hours=7)).occurred_at == T0
    assert normalise("portal", raw_bytes("portal"), ingested).occurred_at == T0
    assert reason_of("portal", raw_bytes("portal"), ingested - timedelta(seconds=1)) == "future_timestamp"
    assert normalise("portal", raw_bytes("portal"), T0, max_skew=timedelta(0)).occurred_at == T0
    tight = T0 - timedelta(seconds=30)
    assert (
        reason_of("portal", raw_bytes("portal"), tight, max_skew=timedelta(seconds=10)) == "future_timestamp"
    )
    late_record = raw_bytes("onestop", recordedAt=T0 + timedelta(days=2))
    assert reason_of("onestop", late_record) == "future_timestamp"
    # An appointment date is in the future by nature.
    assert run("portal", NgayHenTra=T0 + timedelta(days=60)).due_at == T0 + timedelta(days=60)


def test_bad_timestamp() -> None:
    assert reason_of("portal", raw_bytes("portal", ThoiDiemThayDoi="20251125 0915")) == "bad_timestamp"
    assert reason_of("onestop", raw_bytes("onestop", occurredAt="2025-11-25T09:15:00")) == "bad_timestamp"
    assert reason_of("civil", raw_bytes("civil", han_tra="2025-11-28")) == "bad_timestamp"
    assert reason_of("land", raw_bytes("land", thoiDiem=0)) == "bad_timestamp"
    supplement = [{"NgayYeuCau": "hôm qua"}]
    assert reason_of("portal", raw_bytes("portal", DanhSachHoSoBoSung=supplement)) == "bad_timestamp"


def test_implausible_timestamp() -> None:
    # A due date in year 2500 (the calendar cannot count to it) or an event before 2000.
    far = datetime(2500, 1, 1, tzinfo=VN_TZ)
    assert reason_of("portal", raw_bytes("portal", NgayHenTra=far)) == "implausible_timestamp"
    from streams.normalise.base import check_skew

    ancient = normalise("portal", raw_bytes("portal"), T0)
    ancient = dataclasses.replace(ancient, occurred_at=datetime(1999, 12, 31, tzinfo=VN_TZ))
    with pytest.raises(NormaliseError, match="implausible_timestamp"):
        check_skew(ancient, T0, DEFAULT_MAX_SKEW)


def test_trailing_bytes() -> None:
    # A valid record followed by junk is not silently accepted.
    assert reason_of("portal", raw_bytes("portal") + b"junk") == "trailing_bytes"


def test_every_reason_is_tested_above() -> None:
    assert {
        "undecodable",
        "unknown_schema",
        "missing_field",
        "unknown_source",
        "unknown_status",
        "future_timestamp",
        "bad_timestamp",
        "implausible_timestamp",
        "trailing_bytes",
    } == REASONS
    with pytest.raises(ValueError, match="reason"):
        NormaliseError("oops", "not a reason")


# --- topics -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "system"),
    [
        ("src.portal.dossier", "portal"),
        ("t-3f2a.src.land.dossier", "land"),
        ("ci_src.import.dossier", "import"),
    ],
)
def test_source_of_topic(topic: str, system: str) -> None:
    assert source_of_topic(topic) == system


@pytest.mark.parametrize(
    "topic", ["dossier.events", "src.fax.dossier", "src.portal.dossier.dlq", "src..dossier"]
)
def test_not_a_source_topic(topic: str) -> None:
    with pytest.raises(NormaliseError) as info:
        source_of_topic(topic)
    assert info.value.reason == "unknown_source"


# --- pseudonymisation ---------------------------------------------------------------------------


def test_pseudonym_is_stable_for_a_key_and_differs_for_another() -> None:
    assert KEY.ref(CCCD) == Pseudonymiser("test-key").ref(CCCD) == pseudonymise(CCCD, b"test-key")
    assert Pseudonymiser("another-key").ref(CCCD) != KEY.ref(CCCD)
    assert KEY.ref("079095001235") != KEY.ref(CCCD)
    assert len(KEY.ref(CCCD)) == 32 and int(KEY.ref(CCCD), 16) >= 0


def test_pseudonym_ignores_how_the_number_is_written() -> None:
    assert KEY.ref(" 0790 9500-1234 ") == KEY.ref(CCCD)
    assert KEY.ref("c1234567") == KEY.ref("C1234567")
    assert canonical_identifier("０７９") == "079"  # full-width digits from some forms


def test_pseudonymiser_refuses_an_empty_key_and_hides_its_key() -> None:
    with pytest.raises(ValueError, match="empty"):
        Pseudonymiser("")
    assert "test-key" not in repr(KEY)
    assert KEY.ref_or_none(None) is None and KEY.ref_or_none(" - ") is None


def test_pseudonymiser_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import SecretStr

    from contract.settings import PrivacySettings, Settings, get_settings

    given_key = Settings().model_copy(update={"privacy": PrivacySettings(hmac_key=SecretStr("given"))})
    assert Pseudonymiser.from_settings(given_key).ref(CCCD) == Pseudonymiser("given").ref(CCCD)
    monkeypatch.setenv("DONGBO_PRIVACY_HMAC_KEY", "from-env")
    get_settings.cache_clear()
    try:
        assert Pseudonymiser.from_settings().ref(CCCD) == Pseudonymiser("from-env").ref(CCCD)
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("system", SOURCES)
def test_raw_id_and_name_never_reach_the_bytes(system: str) -> None:
    data = raw_bytes(system)
    for secret in (CCCD, "Nguyễn Văn An", "0905123456"):
        assert secret.encode() not in data, secret
    assert KEY.ref(CCCD).encode() in data


@pytest.mark.parametrize("system", SOURCES)
def test_no_identifier_no_reference(system: str) -> None:
    holder = {"portal": "SoGiayToChuHoSo", "onestop": "applicant", "civil": "nguoi_yeu_cau"}
    holder |= {"land": "nguoiNop", "business": "founder"}
    assert run(system, **{holder[system]: None}).applicant_ref is None


def test_adapter_rejects_naive_times_and_unknown_systems() -> None:
    with pytest.raises(ValueError, match="naive"):
        build_record("onestop", native("onestop", occurredAt=datetime(2025, 11, 25, 9, 15)), KEY)
    with pytest.raises(ValueError, match="fax"):
        build_record("fax", {}, KEY)
    with pytest.raises(ValueError, match="fax"):
        encode_raw("fax", {})


@pytest.mark.parametrize("system", SOURCES)
def test_dossier_key(system: str) -> None:
    assert dossier_key(system, build_record(system, native(system), KEY)) == DOSSIER


# --- round trips: adapter → bytes → normalise -------------------------------------------------------

moments = st.datetimes(
    # Within the plausible window of each other (the normaliser rejects dates ten years apart).
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2028, 12, 31),
    timezones=st.sampled_from([UTC, VN_TZ]),
).map(lambda dt: dt.replace(microsecond=0))
dossier_codes = st.from_regex(r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.H[0-9]{2}-[0-9]{6}-[0-9]{4}", fullmatch=True)
event_ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=24)
id_numbers = st.one_of(st.none(), st.from_regex(r"0[0-9]{11}", fullmatch=True))
sequences = st.integers(min_value=1, max_value=2**31 - 1)


def _id_field(system: str, number: str | None) -> dict[str, Any]:
    holder = {
        "portal": ("SoGiayToChuHoSo", None),
        "onestop": ("applicant", "idNumber"),
        "civil": ("nguoi_yeu_cau", "so_dinh_danh"),
        "land": ("nguoiNop", "soGiayTo"),
        "business": ("founder", "id_number"),
    }[system]
    if holder[1] is None:
        return {holder[0]: number}
    return {holder[0]: {holder[1]: number, "name": "Trần Thị Bình"}}


@st.composite
def cases(draw: st.DrawFn, system: str) -> tuple[dict[str, Any], dict[str, Any]]:
    code = draw(st.sampled_from(sorted(EXPECTED_STATUS[system])))
    if system == "civil":
        code = draw(st.sampled_from([code, code.upper(), unicodedata.normalize("NFD", code)]))
    channel = draw(st.sampled_from(sorted(EXPECTED_CHANNEL[system])))
    occurred, due = draw(moments), draw(st.one_of(st.none(), moments))
    dossier, event_id, seq, number = draw(dossier_codes), draw(event_ids), draw(sequences), draw(id_numbers)
    overdue = draw(st.one_of(st.none(), st.booleans()))
    fields = {
        "portal": {"MaSuKien": event_id, "SoThuTu": seq, "ThoiDiemThayDoi": occurred, "MaHoSo": dossier},
        "onestop": {
            "stepId": event_id,
            "stepSeq": seq,
            "occurredAt": occurred,
            "dossierCode": dossier,
            "isOverdue": overdue,
        },
        "civil": {"ma_giao_dich": event_id, "thoi_gian_cap_nhat": occurred, "ma_ho_so_mot_cua": dossier},
        "land": {"eventId": event_id, "phienBan": seq, "thoiDiem": occurred, "maHoSoMotCua": dossier},
        "business": {
            "event_id": event_id,
            "revision": seq,
            "status_changed_at": occurred,
            "one_stop_code": dossier,
        },
    }[system]
    due_field = {
        "portal": "NgayHenTra",
        "onestop": "appointmentDate",
        "civil": "han_tra",
        "land": "ngayHenTra",
        "business": "expected_result_at",
    }[system]
    payload = native(
        system, status=code, channel=channel, **fields, **{due_field: due}, **_id_field(system, number)
    )
    if system == "civil":
        payload["qua_han"] = overdue
    if system == "land":
        payload["quaHan"] = overdue
    expected = {
        "code": code,
        "dossier": dossier,
        "event_id": event_id,
        "seq": None if system == "civil" else seq,
        "occurred": occurred,
        "due": due,
        "number": number,
        "overdue": None if system in ("portal", "business") else overdue,
        "status": EXPECTED_STATUS[system][
            unicodedata.normalize("NFC", code).casefold() if system == "civil" else code
        ],
        "channel": EXPECTED_CHANNEL[system][channel],
    }
    return payload, expected


def _round_trip(system: str, payload: dict[str, Any], expected: dict[str, Any]) -> None:
    data = encode_raw(system, build_record(system, payload, KEY))
    if expected["number"] is not None:
        assert expected["number"].encode() not in data
    ingested = expected["occurred"] + timedelta(seconds=5)
    event = normalise(system, data, ingested)
    assert event.source == system and event.dossier_id == expected["dossier"]
    assert event.source_event_id == expected["event_id"]
    assert event.event_id == event_id_for(system, expected["event_id"])
    assert event.status is expected["status"] and event.channel is expected["channel"]
    assert event.source_seq == expected["seq"]
    assert event.occurred_at == expected["occurred"] and event.due_at == expected["due"]
    assert event.overdue == expected["overdue"]
    assert event.applicant_ref == (None if expected["number"] is None else KEY.ref(expected["number"]))
    assert event.ingested_at == ingested
    # And the canonical event itself survives its own codec.
    canonical = codec.decode(
        "vn.dongbo.DossierEvent", codec.encode("vn.dongbo.DossierEvent", event.to_record())
    )
    assert DossierEvent.from_record(canonical) == event


@pytest.mark.parametrize("system", SOURCES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip(system: str, data: st.DataObject) -> None:
    payload, expected = data.draw(cases(system))
    _round_trip(system, payload, expected)


# --- robustness: bad input is a NormaliseError, never a crash of the worker -------------------------


@pytest.mark.parametrize("system", SOURCES)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_corrupted_bytes_are_dead_lettered_not_crashes(system: str, data: st.DataObject) -> None:
    good = bytearray(raw_bytes(system))
    body_positions = st.integers(min_value=codec.HEADER_LEN, max_value=len(good) - 1)
    for position in data.draw(st.lists(body_positions, min_size=1, max_size=4)):
        good[position] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=codec.HEADER_LEN, max_value=len(good)))
    try:
        event = normalise(system, bytes(good[:cut]), INGESTED)
    except NormaliseError as exc:
        assert exc.reason in REASONS
    else:
        assert event.source == system


def test_the_capture_header_is_the_ingestion_time_and_junk_falls_back() -> None:
    from streams.normalise.sources import CAPTURED_AT, captured_at

    now = T0 + timedelta(hours=1)
    assert captured_at([(CAPTURED_AT, T0.isoformat().encode())], now) == T0  # aiokafka: (str, bytes)
    assert captured_at({CAPTURED_AT.encode(): T0.isoformat().encode()}, now) == T0
    assert captured_at([], now) == now and captured_at(None, now) == now
    assert captured_at([(CAPTURED_AT, b"yesterday")], now) == now  # a producer's bug loses nothing
    assert captured_at([(CAPTURED_AT, b"2026-01-01T00:00:00")], now) == now  # no offset: not trusted


def test_a_dead_letter_keeps_a_record_as_large_as_a_source_topic_takes_whole_and_a_larger_one_cut() -> None:
    import hashlib

    from contract.topics import DEAD_LETTER_MAX, RAW_RECORD_MAX
    from streams.deadletter import DeadLetter

    def letter(value: bytes) -> DeadLetter:
        return DeadLetter("undecodable", "not avro", "normalise", "src.portal.dossier", 3, 17, b"k", value,
                          datetime(2026, 3, 2, tzinfo=VN_TZ))  # fmt: skip

    largest = bytes(range(256)) * (RAW_RECORD_MAX // 256)
    encoded = letter(largest).encode()
    assert len(encoded) <= DEAD_LETTER_MAX
    assert DeadLetter.decode(encoded).value == largest  # whole: nothing a source topic takes is lost
    huge = b"x" * (3 * RAW_RECORD_MAX)
    cut = DeadLetter.decode(letter(huge).encode())
    assert len(letter(huge).encode()) <= DEAD_LETTER_MAX
    assert cut.value is not None and huge.startswith(cut.value)
    assert f"of {len(huge):,} bytes kept, sha256 {hashlib.sha256(huge).hexdigest()}" in cut.detail
