"""Business-registration system: a status change → ``vn.dongbo.src.business.DangKyDoanhNghiepEvent``.

Input: the change as the registration system publishes it, with its field names, and the founder
or legal representative as ``founder: {name, id_number}`` (only ``id_number`` is kept, as a
pseudonym). Times may be ISO-8601 UTC strings or aware datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.adapters._common import identifier, iso_utc_format, retime, whitelist
from producers.privacy import Pseudonymiser

SYSTEM = "business"
SCHEMA = "vn.dongbo.src.business.DangKyDoanhNghiepEvent"


def build_record(native: Mapping[str, Any], pseudonymiser: Pseudonymiser) -> dict[str, Any]:
    record = whitelist(SCHEMA, native)
    record["founder_ref"] = pseudonymiser.ref_or_none(identifier(native, "founder", "id_number"))
    retime(record, ("status_changed_at", "recorded_at", "expected_result_at"), iso_utc_format)
    return record
