"""City one-stop system: a workflow step → ``vn.dongbo.src.onestop.WorkflowStepEvent``.

Input: the step as the one-stop system's webhook sends it, with the schema's field names, and the
applicant as ``applicant: {fullName, idNumber, phone, address}`` (only ``idNumber`` is kept, as a
pseudonym). Times may be ISO strings with an offset or aware datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.adapters._common import identifier, iso_vn_format, retime, whitelist
from producers.privacy import Pseudonymiser

SYSTEM = "onestop"
SCHEMA = "vn.dongbo.src.onestop.WorkflowStepEvent"
_TIMES = ("occurredAt", "recordedAt", "appointmentDate")


def build_record(native: Mapping[str, Any], pseudonymiser: Pseudonymiser) -> dict[str, Any]:
    record = whitelist(SCHEMA, native)
    record["applicantRef"] = pseudonymiser.ref_or_none(identifier(native, "applicant", "idNumber"))
    retime(record, _TIMES, iso_vn_format)
    if record.get("appointmentChange") is not None:
        change = dict(record["appointmentChange"])
        retime(change, ("previousDate", "newDate"), iso_vn_format)
        record["appointmentChange"] = change
    return record
