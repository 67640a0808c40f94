"""Normalise: each source's raw change event → the canonical ``DossierEvent``.

``normalise(system, raw, ingested_at)`` is the entry point; ``NormaliseError.reason`` is the
stable dead-letter code. Status and channel vocabularies are data in ``mappings/<system>.yaml``.
"""

from contract.sources import RAW_SCHEMAS
from streams.normalise.base import DEFAULT_MAX_SKEW, Normaliser
from streams.normalise.errors import REASONS, NormaliseError
from streams.normalise.registry import NORMALISERS, normalise
from streams.normalise.sources import source_of_topic

__all__ = [
    "DEFAULT_MAX_SKEW",
    "NORMALISERS",
    "RAW_SCHEMAS",
    "REASONS",
    "NormaliseError",
    "Normaliser",
    "normalise",
    "source_of_topic",
]
