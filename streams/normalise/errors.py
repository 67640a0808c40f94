"""Why an input could not be normalised, as a value the dead-letter stage can file.

``reason`` is a stable code (metrics labels, alert rules and the DLQ filter on it); ``detail`` is
for the person who opens the dead letter.
"""

from __future__ import annotations

REASONS = frozenset(
    {
        "undecodable",  # not Avro single-object bytes, or a body / dict that does not fit the schema
        "unknown_schema",  # a writer schema nobody here knows, or another source's record on this topic
        "missing_field",  # a value the canonical event cannot do without is absent or blank
        "unknown_source",  # no normaliser for this system / not a source topic
        "unknown_status",  # a status code that is not in the source's mapping
        "future_timestamp",  # an event time later than the ingestion time plus the allowed skew
        "bad_timestamp",  # a time that does not parse in the source's format
        "implausible_timestamp",  # a time before 2000 or years after its arrival (a source's bug)
        "trailing_bytes",  # a valid record followed by bytes that belong to no record
    }
)


class NormaliseError(Exception):
    """Bad input (never a bug): the caller sends it to ``dossier.dlq`` with the raw bytes."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown normalise error reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
