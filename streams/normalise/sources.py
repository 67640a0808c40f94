"""Which raw schema each source system writes, and which source a topic belongs to."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from dongbo.topics import SOURCE_SYSTEMS
from streams.normalise.errors import NormaliseError

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


def captured_at(headers: object, fallback: datetime) -> datetime:
    """The capture time from a record's headers (a mapping or (key, value) pairs), else ``fallback``."""
    items: Iterable[tuple[object, object]] = (
        headers.items() if isinstance(headers, Mapping) else headers if isinstance(headers, Iterable) else ()
    )
    for key, value in items:
        if (key.decode(errors="replace") if isinstance(key, bytes) else key) == CAPTURED_AT and value:
            try:
                text = value.decode() if isinstance(value, bytes) else str(value)
                when = datetime.fromisoformat(text)
            except (UnicodeDecodeError, ValueError):
                return fallback  # a producer's bug must not lose the record
            return when if when.tzinfo is not None else fallback
    return fallback


# Any topic prefix (tests isolate themselves with one), then src.<system>.dossier.
_SOURCE_TOPIC = re.compile(r"(?:^|.*?)src\.([a-z0-9_]+)\.dossier")


def source_of_topic(topic: str) -> str:
    """``"src.portal.dossier"`` (with or without a prefix) → ``"portal"``; else ``unknown_source``."""
    m = _SOURCE_TOPIC.fullmatch(topic)
    if m is None or m.group(1) not in SOURCE_SYSTEMS:
        raise NormaliseError("unknown_source", f"topic {topic!r} is not a source topic src.<system>.dossier")
    return m.group(1)
