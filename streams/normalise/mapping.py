"""Each source's status and channel vocabulary, kept as data in ``mappings/<system>.yaml``.

The maps are read by people (officials check the Vietnamese meaning of every code), so they are
YAML beside the code rather than dicts inside it. They are validated when loaded: a canonical name
that does not exist, a code listed twice, or a code without its meaning fails at start-up, not on
the first dossier that happens to carry it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from streams.model import Channel, Status
from streams.normalise.errors import NormaliseError
from streams.strict_yaml import load_strict

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"


def code_key(code: object) -> str:
    """The form codes are compared in: Unicode NFC, case-folded, single spaces.

    Vietnamese text arrives in NFC or NFD and in any case ("Đã tiếp nhận", "ĐÃ TIẾP NHẬN"); those
    are the same status. Old- and new-style tone placement ("hủy" / "huỷ") are different strings
    even in NFC, so the YAML lists such spellings as aliases.
    """
    text = unicodedata.normalize("NFC", str(code))
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class Entry:
    code: str  # as written in the YAML
    target: str  # canonical name
    meaning: str  # Vietnamese meaning, for officials


@dataclass(frozen=True)
class CodeMap:
    system: str
    status_field: str
    channel_field: str | None
    statuses: dict[str, Entry]  # by code_key, aliases included
    channels: dict[str, Entry]

    def status(self, code: object) -> Status:
        entry = self.statuses.get(code_key(code))
        if entry is None:
            raise NormaliseError(
                "unknown_status",
                f"{self.system} {self.status_field}={code!r} is not in mappings/{self.system}.yaml",
            )
        return Status(entry.target)

    def channel(self, code: object | None) -> Channel:
        """An unmapped channel is UNKNOWN, not an error: the status still counts."""
        if code is None:
            return Channel.UNKNOWN
        entry = self.channels.get(code_key(code))
        return Channel.UNKNOWN if entry is None else Channel(entry.target)

    def codes(self) -> list[Entry]:
        """Every code once (aliases folded into their entry), in file order."""
        unique: dict[str, Entry] = {}
        for entry in self.statuses.values():
            unique.setdefault(entry.code, entry)
        return list(unique.values())


def _entries(system: str, section: str, raw: Any, valid: set[str], target_key: str) -> dict[str, Entry]:
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"mappings/{system}.yaml: '{section}' must be a non-empty mapping")
    entries: dict[str, Entry] = {}
    for code, spec in raw.items():
        if not isinstance(spec, dict) or spec.get(target_key) not in valid:
            raise ValueError(
                f"mappings/{system}.yaml {section}.{code}: {target_key} must be one of {sorted(valid)}"
            )
        meaning = str(spec.get("meaning") or "").strip()
        if not meaning:
            raise ValueError(f"mappings/{system}.yaml {section}.{code}: a meaning is required")
        entry = Entry(code=str(code), target=spec[target_key], meaning=meaning)
        for spelling in [code, *spec.get("aliases", [])]:
            key = code_key(spelling)
            if key in entries:
                raise ValueError(f"mappings/{system}.yaml {section}: {spelling!r} is listed twice")
            entries[key] = entry
    return entries


def parse_mapping(system: str, text: str) -> CodeMap:
    """A mapping file's text → a validated ``CodeMap`` (``ValueError`` / YAML error if it is wrong)."""
    doc = load_strict(text)  # a SafeLoader subclass: no arbitrary objects
    if not isinstance(doc, dict) or doc.get("system") != system:
        raise ValueError(f"mappings/{system}.yaml: 'system' must be {system!r}")
    if not doc.get("status_field"):
        raise ValueError(f"mappings/{system}.yaml: 'status_field' is required")
    channels = doc.get("channels")
    return CodeMap(
        system=system,
        status_field=doc["status_field"],
        channel_field=doc.get("channel_field"),
        statuses=_entries(system, "statuses", doc.get("statuses"), {s.value for s in Status}, "status"),
        channels={}
        if channels is None
        else _entries(system, "channels", channels, {c.value for c in Channel}, "channel"),
    )


@cache
def load_mapping(system: str) -> CodeMap:
    return parse_mapping(system, (MAPPINGS_DIR / f"{system}.yaml").read_text(encoding="utf-8"))
