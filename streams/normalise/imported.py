"""File imports (CSV / XES exports) → canonical events.

The importers map an export's columns to the canonical vocabulary themselves and publish
``vn.dongbo.DossierEvent`` records on ``src.import.dossier``; here they only get the same checks
as every other source: decodable, a known schema, plausible times, and the ingestion time and
deterministic event id set here rather than trusted from the file.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from streams.model import DossierEvent
from streams.normalise.base import Fields, make_normaliser
from streams.normalise.errors import NormaliseError

SYSTEM = "import"


def build(f: Fields, ingested_at: datetime) -> DossierEvent:
    for name in ("dossier_id", "source", "source_event_id"):
        f.required(name)
    try:
        event = DossierEvent.from_record(f.record)
    except ValueError as exc:  # a naive time handed in as a dict (bytes always decode offset-aware)
        raise NormaliseError("bad_timestamp", f"import: {exc}") from exc
    return dataclasses.replace(event, ingested_at=ingested_at, event_id="")  # "" → recomputed


normalise_import = make_normaliser(SYSTEM, build)
