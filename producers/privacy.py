"""Pseudonymisation of applicant identifiers before anything leaves ``producers/``.

A citizen's identity number (CCCD, 12 digits) is replaced by a keyed HMAC-SHA256: the same person
gets the same reference in every source system, so dossiers can still be linked per applicant,
but nobody without the key can recover the number. A plain hash would not do: there are only
10^12 twelve-digit numbers, and all of them can be hashed in an afternoon. Names are never
pseudonymised, they are dropped: a name is not an identifier and its hash would still leak.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from pydantic import SecretStr

from contract.settings import Settings, get_settings, refuse_development_secrets

REF_HEX_CHARS = 32  # 128 bits: no collision among a country's population, short enough to index


def canonical_identifier(identifier: str) -> str:
    """The form that is hashed, so that ``"0790 9500 1234"`` and ``"079095001234"`` match.

    Separators and case differ between systems and forms; the number itself does not.
    """
    text = unicodedata.normalize("NFKC", identifier)
    return "".join(ch for ch in text if ch.isalnum()).upper()


class Pseudonymiser:
    """``Pseudonymiser(key).ref("079095001234")`` → a 32-hex-digit reference."""

    def __init__(self, key: bytes | str | SecretStr) -> None:
        if isinstance(key, SecretStr):
            key = key.get_secret_value()
        self._key = key.encode() if isinstance(key, str) else key
        if not self._key:
            raise ValueError("the pseudonymisation key is empty")

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Pseudonymiser:
        """The key in force (``DONGBO_PRIVACY_HMAC_KEY_FILE``, else ``DONGBO_PRIVACY_HMAC_KEY``) of
        ``settings`` (default: the environment's). Outside the development profile the built-in
        development key is refused (``InsecureSettings``, saying what to set)."""
        settings = settings or get_settings()
        refuse_development_secrets(settings, "a source adapter")
        return cls(settings.privacy.key())

    def ref(self, identifier: str) -> str:
        canonical = canonical_identifier(identifier)
        if not canonical:
            raise ValueError("an identifier with no letters or digits cannot be pseudonymised")
        digest = hmac.new(self._key, canonical.encode(), hashlib.sha256).hexdigest()
        return digest[:REF_HEX_CHARS]

    def ref_or_none(self, identifier: str | None) -> str | None:
        """``None`` for a missing or blank identifier (an applicant without one stays unlinked)."""
        if identifier is None or not canonical_identifier(identifier):
            return None
        return self.ref(identifier)

    def __repr__(self) -> str:  # never show the key in logs or tracebacks
        return "Pseudonymiser(key=***)"


def pseudonymise(identifier: str, key: bytes | str | SecretStr) -> str:
    """One-off form of ``Pseudonymiser(key).ref(identifier)``."""
    return Pseudonymiser(key).ref(identifier)
