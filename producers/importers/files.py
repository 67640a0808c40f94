"""Opening export files the same way for every format."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import IO


def open_text(path: Path) -> IO[str]:
    """A text stream of ``path`` (gunzipped when it ends in ``.gz``).

    ``surrogateescape``: a line with bytes that are not UTF-8 is still read, then skipped as
    ``bad_encoding`` by the importer (see ``has_bad_bytes``), instead of one bad byte aborting a
    million-row import. ``utf-8-sig`` drops the BOM that spreadsheet programs write.
    """
    # The wrapper owns the binary stream: closing the text stream closes it.
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")


def has_bad_bytes(*values: str) -> bool:
    """True when a value carries bytes that were not UTF-8 (escaped as lone surrogates)."""
    for value in values:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False
