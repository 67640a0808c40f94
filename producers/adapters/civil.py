"""Civil-status system: a status change → ``vn.dongbo.src.civil.HoTichEvent``.

Input: the change as the civil-status system exports it, with its field names, and the requester
as ``nguoi_yeu_cau: {ho_ten, so_dinh_danh}`` (only ``so_dinh_danh`` is kept, as a pseudonym).
Times may be ``dd/MM/yyyy HH:mm:ss`` strings (+07:00) or aware datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.adapters._common import identifier, retime, vn_dmy_format, whitelist
from producers.privacy import Pseudonymiser

SYSTEM = "civil"
SCHEMA = "vn.dongbo.src.civil.HoTichEvent"


def build_record(native: Mapping[str, Any], pseudonymiser: Pseudonymiser) -> dict[str, Any]:
    record = whitelist(SCHEMA, native)
    record["nguoi_yeu_cau"] = pseudonymiser.ref_or_none(identifier(native, "nguoi_yeu_cau", "so_dinh_danh"))
    retime(record, ("thoi_gian_cap_nhat", "han_tra"), vn_dmy_format)
    return record
