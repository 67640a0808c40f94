"""Which source a raw topic belongs to, and when a raw record was captured (its header)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from contract.sources import CAPTURED_AT, SOURCE_SYSTEMS
from streams.normalise.errors import NormaliseError


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
