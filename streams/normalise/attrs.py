"""Keys of ``DossierEvent.attributes`` the normalisers fill in, shared by every source.

Values are strings (the Avro map is ``string -> string``): booleans ``"true"`` / ``"false"``,
counts in decimal, times ISO-8601 with the +07:00 offset. A source sets only what it reports:
a missing key means "not reported", never "false" or "0".

What a merge rule depends on is not here but a typed field of ``DossierEvent``: the receipt and the
end of processing a record restates (``stated_received_at``, ``stated_ended_at``), the latest
supplement request's dates (``stated_supplement_requested_at`` / ``_received_at``), an apology
letter's new date (``extended_due_at``) and ``complex_case``. Records of DossierEvent version 2
carried them here under the keys of ``streams.model.LEGACY_ATTRIBUTES``, which no normaliser
writes any more (``DossierEvent.from_record`` still reads them into the typed fields).
"""

from __future__ import annotations

from streams import model

PROCEDURE_NAME = "procedure_name"  # TenTTHC
FIELD_CODE = "field_code"  # MaLinhVuc (lĩnh vực)
SOURCE_DOSSIER_REF = "source_dossier_ref"  # a ministry system's own dossier number
SOURCE_CHANNEL = "source_channel"  # the channel code as the source sent it, when not mapped
STEP_LABEL = "step_label"  # one-stop workflow step label
HANDLING_DEPARTMENT = "handling_department"
TRANSFER_TO = "transfer_to"  # agency a liên thông dossier went to
CIVIL_EVENT_KIND = "civil_event_kind"  # khai_sinh, ket_hon, ...

RETURNED_AT = "returned_at"  # NgayTra

# Decision 766 indicators: 3.6 paid online (and where: portal = national payment platform, local);
# 4.2 / 4.3 component documents, digitised, reused from the citizen's data store; 4.1 electronic
# result files. The unified state carries these (``streams.model.INDICATOR_ATTRIBUTES``).
PAID_ONLINE = model.PAID_ONLINE
PAYMENT_GATEWAY = model.PAYMENT_GATEWAY
DOCUMENTS_TOTAL = model.DOCUMENTS_TOTAL
DOCUMENTS_DIGITISED = model.DOCUMENTS_DIGITISED
DOCUMENTS_REUSED = model.DOCUMENTS_REUSED
RESULT_FILES = model.RESULT_FILES
RESULT_FILES_SIGNED = model.RESULT_FILES_SIGNED

# Supplement requests (docs/domain-rules.md §5 and §8: the clock pauses; a second request → overdue
# in the portal's judgement). The latest request's appointment dates (its own dates are typed).
SUPPLEMENT_COUNT = "supplement_count"
SUPPLEMENT_PREVIOUS_DUE_AT = "supplement_previous_due_at"
SUPPLEMENT_NEW_DUE_AT = "supplement_new_due_at"

# Apology letters with a new appointment date (docs/domain-rules.md §6: judged late against the date
# before the first letter, tracked against the newest, the typed ``extended_due_at``).
EXTENSION_COUNT = "extension_count"
EXTENSION_PREVIOUS_DUE_AT = "extension_previous_due_at"  # before the first letter this event knows
