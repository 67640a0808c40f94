"""One normaliser per source system, and the entry point the stream worker calls."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from streams.model import DossierEvent
from streams.normalise.base import DEFAULT_MAX_SKEW, Normaliser
from streams.normalise.business import normalise_business
from streams.normalise.civil import normalise_civil
from streams.normalise.errors import NormaliseError
from streams.normalise.imported import normalise_import
from streams.normalise.land import normalise_land
from streams.normalise.onestop import normalise_onestop
from streams.normalise.portal import normalise_portal

NORMALISERS: dict[str, Normaliser] = {
    "portal": normalise_portal,
    "onestop": normalise_onestop,
    "civil": normalise_civil,
    "land": normalise_land,
    "business": normalise_business,
    "import": normalise_import,
}


def normalise(
    system: str,
    raw: bytes | Mapping[str, Any],
    ingested_at: datetime,
    *,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
) -> DossierEvent:
    """A source's raw record (single-object Avro bytes, or the record as a dict) → canonical event.

    Raises ``NormaliseError`` for bad input (send it to the dead-letter topic with the bytes);
    any other exception is a bug.
    """
    normaliser = NORMALISERS.get(system)
    if normaliser is None:
        raise NormaliseError("unknown_source", f"no normaliser for source system {system!r}")
    return normaliser(raw, ingested_at, max_skew=max_skew)
