"""What an import did: rows read, events produced, dossiers, and every row it could not use.

A bad row is never fatal: it is counted under a stable reason code, and the first few of each
reason are kept as examples (row number and why), so the person running the import can open the
file at that line. A problem that stops the whole file (truncated gzip, broken XML) is kept as
``error``; the rows read before it still count.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from streams.model import DossierEvent

EXAMPLES_PER_REASON = 3

# Reasons a row is skipped. Stable codes: tests, CI logs and people grep for them.
SKIP_REASONS = frozenset(
    {
        "missing_case_id",  # the case id column is blank (tabular)
        "missing_activity",  # the activity column is blank (tabular)
        "bad_timestamp",  # the event time does not parse, has no offset, or is implausible
        "unmapped_activity",  # no status rule matched and the mapping says default_status: skip
        "malformed_row",  # wrong number of fields, a CSV syntax error
        "bad_encoding",  # bytes that are not UTF-8
        # dossier-events (JSON Lines) only
        "invalid_json",
        "missing_field",
        "bad_field",  # a value of the wrong type or out of its vocabulary (status, channel, ...)
        "unknown_field",  # a key the format does not define (a typo would otherwise lose data)
        "source_mismatch",  # the line's source is not the one this import runs for
    }
)


@dataclass
class ImportReport:
    """Counters of one import run. ``notes`` are non-fatal observations (a value kept as is)."""

    path: str = ""
    fmt: str = ""
    source: str = ""
    rows_read: int = 0
    events: int = 0
    published: int = 0
    topic: str | None = None  # where the events went; None: a dry run
    dossiers: set[str] = field(default_factory=set, repr=False)
    by_status: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    notes: Counter[str] = field(default_factory=Counter)
    note_examples: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def skip(self, reason: str, where: str, detail: str) -> None:
        if reason not in SKIP_REASONS:  # a programming error: reasons are a closed vocabulary
            raise ValueError(f"unknown skip reason {reason!r}")
        self.skipped[reason] += 1
        _keep(self.examples, reason, f"{where}: {detail}")

    def note(self, what: str, where: str, detail: str) -> None:
        self.notes[what] += 1
        _keep(self.note_examples, what, f"{where}: {detail}")

    def produced(self, event: DossierEvent) -> None:
        self.events += 1
        self.dossiers.add(event.dossier_id)
        self.by_status[event.status.value] += 1

    def finish(self) -> None:
        self.finished = time.monotonic()

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped.values())

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        """Rows per second (events per second for a format where a row is an event)."""
        return self.rows_read / self.elapsed if self.elapsed > 0 else 0.0

    def progress_line(self) -> str:
        return (
            f"import {self.fmt}: {self.rows_read:,} rows, {self.events:,} events, "
            f"{len(self.dossiers):,} dossiers, {self.rows_skipped:,} skipped, {self.rate:,.0f} rows/s"
        )

    def summary(self) -> str:
        lines = [
            f"import of {self.path} ({self.fmt}, source {self.source or '-'})",
            f"  rows read      {self.rows_read:>10,}",
            f"  events         {self.events:>10,}",
            f"  dossiers       {len(self.dossiers):>10,}",
            f"  rows skipped   {self.rows_skipped:>10,}",
        ]
        for reason, n in self.skipped.most_common():
            lines.append(f"    {reason:<20} {n:>8,}")
            lines.extend(f"      e.g. {ex}" for ex in self.examples.get(reason, []))
        if self.notes:
            lines.append("  notes (kept, but look)")
            for what, n in self.notes.most_common():
                lines.append(f"    {what:<20} {n:>8,}")
                lines.extend(f"      e.g. {ex}" for ex in self.note_examples.get(what, []))
        lines.append("  events by status")
        lines.extend(f"    {status:<20} {n:>8,}" for status, n in self.by_status.most_common())
        if self.topic is None:
            lines.append("  published               - (dry run: nothing sent to Kafka)")
        else:
            lines.append(f"  published      {self.published:>10,} to {self.topic}")
        lines.append(f"  elapsed        {self.elapsed:>10.2f} s ({self.rate:,.0f} rows/s)")
        if self.error:
            lines.append(f"  STOPPED EARLY: {self.error}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.fmt,
            "source": self.source,
            "rows_read": self.rows_read,
            "events": self.events,
            "published": self.published,
            "topic": self.topic,
            "dossiers": len(self.dossiers),
            "rows_skipped": self.rows_skipped,
            "skipped": dict(self.skipped),
            "examples": self.examples,
            "notes": dict(self.notes),
            "note_examples": self.note_examples,
            "by_status": dict(self.by_status),
            "elapsed_s": round(self.elapsed, 3),
            "rows_per_s": round(self.rate, 1),
            "error": self.error,
        }


def _keep(store: dict[str, list[str]], key: str, text: str) -> None:
    kept = store.setdefault(key, [])
    if len(kept) < EXAMPLES_PER_REASON:
        kept.append(text[:300])
