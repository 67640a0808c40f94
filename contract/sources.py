"""The source systems dongbo reads, the raw record each one writes, and the capture header.

Each source system ``<system>`` publishes on its own raw topic ``src.<system>.dossier`` (see
``contract.topics``) in its own vocabulary; the adapters in ``producers/adapters`` own that
vocabulary and the normalisers in ``streams/normalise`` map it to the canonical lifecycle.
"""

from __future__ import annotations

# Source systems that have a raw topic ``src.<system>.dossier``.
SOURCE_SYSTEMS = ("portal", "onestop", "civil", "land", "business", "import")
# The systems that feed dongbo continuously (not the one-off file imports): a partition's stream
# time waits until each has been read on it (streams.streamtime).
LIVE_SYSTEMS = tuple(s for s in SOURCE_SYSTEMS if s != "import")

# The record every source's adapter writes on ``src.<system>.dossier``. ``import`` carries
# canonical events: the file importers map an export's columns before publishing.
RAW_SCHEMAS: dict[str, str] = {
    "portal": "vn.dongbo.src.portal.HoSoEvent",
    "onestop": "vn.dongbo.src.onestop.WorkflowStepEvent",
    "civil": "vn.dongbo.src.civil.HoTichEvent",
    "land": "vn.dongbo.src.land.DatDaiEvent",
    "business": "vn.dongbo.src.business.DangKyDoanhNghiepEvent",
    "import": "vn.dongbo.DossierEvent",
}

# Header the adapters set on every raw record: when they captured it from the source system (ISO
# 8601 with offset). It is the event's ingestion time (a replay keeps the original capture times);
# without it, the moment the worker reads the record.
CAPTURED_AT = "captured_at"
