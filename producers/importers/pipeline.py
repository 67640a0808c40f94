"""One import run: read a file in any format, stream its events to Kafka (or nowhere), report.

The events are streamed: a row is read, mapped, and published before the next is read, so the
file size does not matter. By default the events go to the import source's raw topic
``src.import.dossier`` (every producer writes only its own raw topic:
docs/architecture.md#least-privilege), where the normalise agent gives them the same checks as
every other source (clock skew, dead letters) and forwards them to ``dossier.events``.
``direct=True`` skips that hop and writes ``dossier.events``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from contract.settings import Settings
from producers.importers.jsonl import event_to_json, read_events
from producers.importers.mapping import Mapping
from producers.importers.report import ImportReport
from producers.importers.tabular import ImportFileError, read_csv, read_xes, rows_to_events
from streams.model import DossierEvent, utcnow

FORMATS = ("dossier-events", "csv", "xes")
IMPORT_SYSTEM = "import"  # the raw topic src.import.dossier (contract.sources.SOURCE_SYSTEMS)

_SUFFIXES = {
    ".jsonl": "dossier-events",
    ".ndjson": "dossier-events",
    ".csv": "csv",
    ".xes": "xes",
}


def detect_format(path: Path) -> str | None:
    """The format from the file name (``receipt.xes.gz`` → xes), or None."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return _SUFFIXES.get(suffixes[-1]) if suffixes else None


def iter_events(
    path: Path,
    fmt: str,
    report: ImportReport,
    *,
    source: str | None,
    mapping: Mapping | None = None,
    limit: int | None = None,
    ingested_at: datetime | None = None,
) -> Iterator[DossierEvent]:
    """The canonical events of a file, in file order. File-level problems raise ``ImportFileError``."""
    if fmt not in FORMATS:
        raise ImportFileError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    at = ingested_at or utcnow()
    if fmt == "dossier-events":
        yield from read_events(path, report, at, default_source=source, limit=limit)
        return
    if mapping is None:
        raise ImportFileError(f"format {fmt} needs a mapping file (--mapping)")
    name = source or mapping.source
    if not name:
        raise ImportFileError(f"no source name: pass --source or set 'source' in mapping {mapping.name}")
    rows = read_csv(path, mapping, report, limit) if fmt == "csv" else read_xes(path, report, limit)
    yield from rows_to_events(rows, mapping, name, report, at)


Progress = Callable[[ImportReport], None]


@dataclass
class ImportJob:
    """What to import and how; ``run_import`` / ``import_to_kafka`` do it."""

    path: Path
    fmt: str
    source: str | None = None
    mapping: Mapping | None = None
    limit: int | None = None
    output: IO[str] | None = None  # also write the events as dossier-events JSON Lines here
    progress: Progress | None = None  # called every ``progress_every`` rows and at the end
    progress_every: int = 10_000
    ingested_at: datetime | None = None
    on_start: Callable[[ImportReport], None] | None = None  # handed the live report (metrics)


def run_import(job: ImportJob, publish: Callable[[DossierEvent], None] | None = None) -> ImportReport:
    """Read the file and hand every event to ``publish`` (None: a dry run) and ``job.output``."""
    source = job.source or (job.mapping.source if job.mapping else None) or ""
    report = ImportReport(path=str(job.path), fmt=job.fmt, source=source)
    if job.on_start is not None:
        job.on_start(report)
    every = job.progress_every
    next_progress = every
    try:
        events = iter_events(
            job.path,
            job.fmt,
            report,
            source=job.source,
            mapping=job.mapping,
            limit=job.limit,
            ingested_at=job.ingested_at,
        )
        for event in events:
            if publish is not None:
                publish(event)
            if job.output is not None:
                job.output.write(json.dumps(event_to_json(event), ensure_ascii=False, separators=(",", ":")))
                job.output.write("\n")
            if job.progress is not None and every > 0 and report.rows_read >= next_progress:
                job.progress(report)
                next_progress = (report.rows_read // every + 1) * every
    finally:
        report.finish()
    if job.progress is not None:
        job.progress(report)
    return report


def import_to_kafka(job: ImportJob, settings: Settings, *, direct: bool = False) -> ImportReport:
    """``run_import`` publishing with the idempotent ``Publisher``; topics are created if missing.

    A delivery failure found when the producer is flushed does not lose the report: it comes
    back with ``error`` set and ``published`` below ``events``.
    """
    from confluent_kafka import KafkaException

    from contract.topics import ensure_topics, topics_for
    from producers.publisher import Publisher, PublishError

    # A topic auto-created by the producer would get the broker's default partition count, and
    # the changelog of the merge table would no longer line up with it.
    ensure_topics(settings)
    names = topics_for(settings)
    topic = names.events if direct else names.source(IMPORT_SYSTEM)
    report: ImportReport | None = None
    pub = Publisher(settings)
    try:
        with pub:
            report = run_import(job, publish=lambda e: pub.send_event(e, topic))
    except (PublishError, KafkaException) as exc:
        if report is None:
            raise
        report.error = f"publishing to {topic} failed: {exc}"
    report.published = pub.delivered
    report.topic = topic
    return report
