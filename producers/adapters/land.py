"""Land information system: a status change → ``vn.dongbo.src.land.DatDaiEvent``.

Input: the change as the land system publishes it, with its field names, and the applicant as
``nguoiNop: {hoTen, soGiayTo}`` (only ``soGiayTo`` is kept, as a pseudonym). Times may be epoch
milliseconds or aware datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.adapters._common import epoch_millis_format, identifier, retime, whitelist
from producers.privacy import Pseudonymiser

SYSTEM = "land"
SCHEMA = "vn.dongbo.src.land.DatDaiEvent"


def build_record(native: Mapping[str, Any], pseudonymiser: Pseudonymiser) -> dict[str, Any]:
    record = whitelist(SCHEMA, native)
    record["nguoiNopRef"] = pseudonymiser.ref_or_none(identifier(native, "nguoiNop", "soGiayTo"))
    retime(record, ("thoiDiem", "thoiDiemGhiNhan", "ngayHenTra"), epoch_millis_format)
    return record
