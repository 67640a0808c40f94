"""The true steps of a dossier and how each system words them, as data.

A true lifecycle is a list of ``Step``s. Each system records a step in its own vocabulary (the
same codes its adapter and normaliser know, ``streams/normalise/mappings/<system>.yaml``), or not
at all (``None``: the system has no such step, e.g. the land system never sees an online
submission). A system whose code would not change is silent: ministry systems and the portal
report status changes, not every workflow step of the one-stop system.
"""

from __future__ import annotations

from enum import StrEnum

from streams.model import Status
from streams.normalise.mapping import load_mapping


class Step(StrEnum):
    SUBMITTED = "SUBMITTED"  # online submission on the portal
    RECEPTION = "RECEPTION"  # received at the desk (or accepted online)
    REJECTION = "REJECTION"  # refused at reception
    ASSIGNMENT = "ASSIGNMENT"
    PROCESSING = "PROCESSING"
    TRANSFER_OUT = "TRANSFER_OUT"  # liên thông: sent to another agency (land: the tax office)
    TRANSFER_BACK = "TRANSFER_BACK"
    SUPPLEMENT_REQUEST = "SUPPLEMENT_REQUEST"  # the clock stops
    SUPPLEMENT_RECEIVED = "SUPPLEMENT_RECEIVED"  # the clock runs again
    FINANCIAL_OBLIGATION = "FINANCIAL_OBLIGATION"  # stops the clock where the procedure says so
    FINANCIAL_DONE = "FINANCIAL_DONE"
    EXTENSION = "EXTENSION"  # apology letter with a new appointment date
    APPROVAL = "APPROVAL"
    SIGNING = "SIGNING"
    RESULT_READY = "RESULT_READY"
    RETURNED = "RETURNED"
    WITHDRAWAL = "WITHDRAWAL"
    STOPPED = "STOPPED"


STATUS: dict[Step, Status] = {
    Step.SUBMITTED: Status.SUBMITTED,
    Step.RECEPTION: Status.RECEIVED,
    Step.REJECTION: Status.REJECTED,
    Step.ASSIGNMENT: Status.IN_PROGRESS,
    Step.PROCESSING: Status.IN_PROGRESS,
    Step.TRANSFER_OUT: Status.TRANSFERRED,
    Step.TRANSFER_BACK: Status.IN_PROGRESS,
    Step.SUPPLEMENT_REQUEST: Status.SUPPLEMENT_REQUESTED,
    Step.SUPPLEMENT_RECEIVED: Status.SUPPLEMENT_RECEIVED,
    Step.FINANCIAL_OBLIGATION: Status.FINANCIAL_OBLIGATION,
    Step.FINANCIAL_DONE: Status.IN_PROGRESS,
    Step.EXTENSION: Status.IN_PROGRESS,
    Step.APPROVAL: Status.IN_PROGRESS,
    Step.SIGNING: Status.IN_PROGRESS,
    Step.RESULT_READY: Status.RESULT_READY,
    Step.RETURNED: Status.RETURNED,
    Step.WITHDRAWAL: Status.WITHDRAWN,
    Step.STOPPED: Status.STOPPED,
}

# Steps after which a system's appointment date may have moved: a record is sent even when the
# status code stays the same, because the date (or the portal's lists) changed.
DUE_CHANGING = frozenset({Step.SUPPLEMENT_RECEIVED, Step.FINANCIAL_DONE, Step.EXTENSION})

_S = Step
CODES: dict[str, dict[Step, str | int | None]] = {
    "onestop": {
        _S.SUBMITTED: "ONLINE_SUBMITTED",
        _S.RECEPTION: "RECEPTION",
        _S.REJECTION: "REJECTION",
        _S.ASSIGNMENT: "ASSIGNMENT",
        _S.PROCESSING: "DEPT_PROCESSING",
        _S.TRANSFER_OUT: "TRANSFER_OUT",
        _S.TRANSFER_BACK: "TRANSFER_BACK",
        _S.SUPPLEMENT_REQUEST: "SUPPLEMENT_REQUEST",
        _S.SUPPLEMENT_RECEIVED: "SUPPLEMENT_RECEIVED",
        _S.FINANCIAL_OBLIGATION: "FINANCIAL_OBLIGATION",
        _S.FINANCIAL_DONE: "FINANCIAL_OBLIGATION_DONE",
        _S.EXTENSION: "DEPT_PROCESSING",  # the letter is an appointment change on a processing step
        _S.APPROVAL: "APPROVAL",
        _S.SIGNING: "SIGNING",
        _S.RESULT_READY: "RESULT_AT_DESK",
        _S.RETURNED: "RETURNED",
        _S.WITHDRAWAL: "WITHDRAWAL",
        _S.STOPPED: "STOPPED",
    },
    "portal": {  # TrangThaiHoSo; the portal has no transfer, "supplement received" or approval steps
        _S.SUBMITTED: 1,
        _S.RECEPTION: 2,
        _S.REJECTION: 3,
        _S.ASSIGNMENT: 4,
        _S.PROCESSING: 4,
        _S.TRANSFER_OUT: 4,
        _S.TRANSFER_BACK: 4,
        _S.SUPPLEMENT_REQUEST: 5,
        _S.SUPPLEMENT_RECEIVED: 4,
        _S.FINANCIAL_OBLIGATION: 6,
        _S.FINANCIAL_DONE: 4,
        _S.EXTENSION: 4,
        _S.APPROVAL: 4,
        _S.SIGNING: 4,
        _S.RESULT_READY: 9,
        _S.RETURNED: 10,
        _S.WITHDRAWAL: 7,
        _S.STOPPED: 8,
    },
    "civil": {
        _S.SUBMITTED: "chờ tiếp nhận",
        _S.RECEPTION: "đã tiếp nhận",
        _S.REJECTION: "từ chối",
        _S.ASSIGNMENT: "đang xử lý",
        _S.PROCESSING: "đang xử lý",
        _S.TRANSFER_OUT: "chuyển liên thông",
        _S.TRANSFER_BACK: "đang xử lý",
        _S.SUPPLEMENT_REQUEST: "yêu cầu bổ sung",
        _S.SUPPLEMENT_RECEIVED: "đã bổ sung",
        _S.FINANCIAL_OBLIGATION: "chờ nộp lệ phí",
        _S.FINANCIAL_DONE: "đang xử lý",
        _S.EXTENSION: "đang xử lý",
        _S.APPROVAL: "đang xử lý",
        _S.SIGNING: "đã đăng ký",  # entered in the civil-status book; the extract is the result
        _S.RESULT_READY: "đã cấp trích lục",
        _S.RETURNED: "đã trả kết quả",
        _S.WITHDRAWAL: "công dân rút hồ sơ",
        _S.STOPPED: "dừng xử lý",
    },
    "land": {
        _S.SUBMITTED: None,  # the land system receives the dossier from the desk
        _S.RECEPTION: "TIEP_NHAN",
        _S.REJECTION: "TRA_LAI",
        _S.ASSIGNMENT: "THAM_DINH",
        _S.PROCESSING: "DO_DAC",
        _S.TRANSFER_OUT: "CHUYEN_THUE",  # to the tax office, which sets the financial obligation
        _S.TRANSFER_BACK: "THAM_DINH",
        _S.SUPPLEMENT_REQUEST: "YC_BO_SUNG",
        _S.SUPPLEMENT_RECEIVED: "DA_BO_SUNG",
        _S.FINANCIAL_OBLIGATION: "CHO_NVTC",
        _S.FINANCIAL_DONE: "DA_NOP_NVTC",
        _S.EXTENSION: "THAM_DINH",
        _S.APPROVAL: "TRINH_KY",
        _S.SIGNING: "TRINH_KY",
        _S.RESULT_READY: "CAP_GCN",
        _S.RETURNED: "DA_TRA",
        _S.WITHDRAWAL: "RUT_HS",
        _S.STOPPED: None,  # no such code: the lifecycle never stops a land dossier
    },
    "business": {
        _S.SUBMITTED: "SUBMITTED",
        _S.RECEPTION: "RECEIVED",
        _S.REJECTION: "REFUSED",
        _S.ASSIGNMENT: "PROCESSING",
        _S.PROCESSING: "PROCESSING",
        _S.TRANSFER_OUT: "PROCESSING",
        _S.TRANSFER_BACK: "PROCESSING",
        _S.SUPPLEMENT_REQUEST: "AMENDMENT_REQUIRED",
        _S.SUPPLEMENT_RECEIVED: "AMENDMENT_SUBMITTED",
        _S.FINANCIAL_OBLIGATION: "PROCESSING",
        _S.FINANCIAL_DONE: "PROCESSING",
        _S.EXTENSION: "PROCESSING",
        _S.APPROVAL: "PROCESSING",
        _S.SIGNING: "PROCESSING",
        _S.RESULT_READY: "APPROVED",
        _S.RETURNED: "DELIVERED",
        _S.WITHDRAWAL: "WITHDRAWN",
        _S.STOPPED: None,  # no such code: the lifecycle never stops a business dossier
    },
}
SYSTEMS = tuple(CODES)
MINISTRY_SYSTEMS = ("civil", "land", "business")
# Systems that report their own overdue judgement (the portal and the business system do not).
OVERDUE_FLAG = frozenset({"onestop", "civil", "land"})
# Steps a lifecycle must not produce for a dossier held by a system without a code for them.
UNSUPPORTED: dict[str, frozenset[Step]] = {
    system: frozenset(step for step, code in codes.items() if code is None and step != Step.SUBMITTED)
    for system, codes in CODES.items()
}
ONE_STOP_LABELS: dict[str, str] = {
    "ONLINE_SUBMITTED": "Hồ sơ nộp trực tuyến",
    "RECEPTION": "Tiếp nhận hồ sơ",
    "REJECTION": "Từ chối tiếp nhận",
    "ASSIGNMENT": "Phân công xử lý",
    "DEPT_PROCESSING": "Thẩm định, xử lý",
    "TRANSFER_OUT": "Chuyển liên thông",
    "TRANSFER_BACK": "Nhận lại hồ sơ liên thông",
    "SUPPLEMENT_REQUEST": "Yêu cầu bổ sung",
    "SUPPLEMENT_RECEIVED": "Nhận hồ sơ bổ sung",
    "FINANCIAL_OBLIGATION": "Chờ thực hiện nghĩa vụ tài chính",
    "FINANCIAL_OBLIGATION_DONE": "Đã thực hiện nghĩa vụ tài chính",
    "APPROVAL": "Trình phê duyệt",
    "SIGNING": "Ký số kết quả",
    "RESULT_AT_DESK": "Trả kết quả về bộ phận một cửa",
    "RETURNED": "Đã trả kết quả",
    "WITHDRAWAL": "Công dân rút hồ sơ",
    "STOPPED": "Dừng xử lý",
}


def code_of(system: str, step: Step) -> str | int | None:
    return CODES[system][step]


def canonical(system: str, code: str | int) -> Status:
    """The canonical status the normaliser will give ``code`` (the mapping files are the truth)."""
    return load_mapping(system).status(code)


def expected_view(system: str, steps: list[Step]) -> Status | None:
    """What ``system`` shows after ``steps`` when nothing goes wrong: its last code's status."""
    codes = [c for c in (CODES[system][s] for s in steps) if c is not None]
    return canonical(system, codes[-1]) if codes else None
