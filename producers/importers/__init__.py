"""File importers: exports of other systems (CSV, XES) and canonical JSON Lines → dossier events.

``dongbo import`` (``dongbo/cli_import.py``) is the command line; ``docs/import.md`` the manual.
"""

from producers.importers.mapping import Mapping, MappingError, load_mapping, parse_mapping
from producers.importers.pipeline import (
    FORMATS,
    ImportJob,
    detect_format,
    import_to_kafka,
    iter_events,
    run_import,
)
from producers.importers.report import ImportReport
from producers.importers.tabular import ImportFileError

__all__ = [
    "FORMATS",
    "ImportFileError",
    "ImportJob",
    "ImportReport",
    "Mapping",
    "MappingError",
    "detect_format",
    "import_to_kafka",
    "iter_events",
    "load_mapping",
    "parse_mapping",
    "run_import",
]
