"""One adapter per source system: its own data → a raw record of its own Avro schema.

``build_record(system, native, pseudonymiser)`` keeps only the schema's fields and replaces the
applicant's identity number by a keyed pseudonym; ``encode_raw`` frames the record for the
source's topic ``src.<system>.dossier``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from contract.sources import RAW_SCHEMAS
from producers.adapters import business, civil, land, onestop, portal
from producers.privacy import Pseudonymiser
from schemas import codec

Adapter = Callable[[Mapping[str, Any], Pseudonymiser], dict[str, Any]]

ADAPTERS: dict[str, Adapter] = {
    "portal": portal.build_record,
    "onestop": onestop.build_record,
    "civil": civil.build_record,
    "land": land.build_record,
    "business": business.build_record,
}

# The field of each raw record that holds the one-stop dossier code: the Kafka key.
DOSSIER_KEY_FIELDS: dict[str, str] = {
    "portal": "MaHoSo",
    "onestop": "dossierCode",
    "civil": "ma_ho_so_mot_cua",
    "land": "maHoSoMotCua",
    "business": "one_stop_code",
}


def build_record(system: str, native: Mapping[str, Any], pseudonymiser: Pseudonymiser) -> dict[str, Any]:
    try:
        adapter = ADAPTERS[system]
    except KeyError:
        raise ValueError(f"no adapter for source system {system!r}") from None
    return adapter(native, pseudonymiser)


def encode_raw(system: str, record: dict[str, Any]) -> bytes:
    """Single-object Avro bytes of a raw record, for ``src.<system>.dossier``."""
    if system not in ADAPTERS:
        raise ValueError(f"no raw schema for source system {system!r}")
    return codec.encode(RAW_SCHEMAS[system], record)


def dossier_key(system: str, record: Mapping[str, Any]) -> str | None:
    """The record's one-stop dossier code (the topic key); ``None`` if the source did not send one."""
    value = record.get(DOSSIER_KEY_FIELDS[system])
    return value or None


__all__ = ["ADAPTERS", "DOSSIER_KEY_FIELDS", "Adapter", "build_record", "dossier_key", "encode_raw"]
