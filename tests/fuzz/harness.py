"""Coverage-guided fuzzing (atheris, libFuzzer's engine for Python) of everything that reads outside
input: the Avro framing, each source's normaliser followed by the merge engine, the canonical-event
decoder, the importers (CSV, JSON Lines, XES) and the mapping files.

Each target holds the same property as the hypothesis suite (``tests/unit/test_fuzz.py``): an input
is accepted or refused with the module's own error; any other exception is a crash, reported by
libFuzzer with the input that caused it. Targets start from a corpus of valid inputs, so the fuzzer
mutates real records rather than searching for the framing from nothing.

    .venv/bin/python -m tests.fuzz.harness normalise -max_total_time=300   # one target, 5 minutes
    make fuzz                                                               # every target, FUZZ_SECONDS each
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["schemas", "streams", "producers", "contract"]):
    from contract.partitioning import partition_of
    from contract.settings import Settings
    from producers.importers.mapping import MappingError, load_mapping, parse_mapping
    from producers.importers.pipeline import ImportJob, run_import
    from producers.importers.tabular import ImportFileError
    from schemas import codec
    from streams.agents.merge import decode_event
    from streams.configured import worker_policy
    from streams.engine import MergeEngine
    from streams.normalise.errors import NormaliseError
    from streams.normalise.registry import normalise

INGESTED = datetime(2025, 11, 25, 2, 17, tzinfo=UTC)
SYSTEMS = ("portal", "onestop", "civil", "land", "business", "import")
POLICY = worker_policy(Settings())
WABO = load_mapping("wabo-receipt")
# libFuzzer ends the process from C (no atexit): one folder per target, emptied at each start.
WORK = Path(tempfile.gettempdir()) / "dongbo-fuzz" / (sys.argv[1] if len(sys.argv) > 1 else "any")

Target = Callable[[bytes], None]
TARGETS: dict[str, Target] = {}
SEEDS: dict[str, Callable[[], list[bytes]]] = {}


def target(name: str, seeds: Callable[[], list[bytes]]) -> Callable[[Target], Target]:
    def register(fn: Target) -> Target:
        TARGETS[name], SEEDS[name] = fn, seeds
        return fn

    return register


def _source_records() -> list[bytes]:
    from tests.unit.test_normalise import raw_bytes

    return [bytes([i]) + raw_bytes(system) for i, system in enumerate(SYSTEMS[:-1])]


def _event_record() -> list[bytes]:
    from tests.unit.test_normalise import raw_bytes

    return [
        codec.encode("vn.dongbo.DossierEvent", normalise("portal", raw_bytes("portal"), INGESTED).to_record())
    ]


@target("codec", lambda: [s[1:] for s in _source_records()] + _event_record())
def fuzz_codec(data: bytes) -> None:
    with contextlib.suppress(codec.DecodeError):
        codec.decode_any(data)


@target("normalise", _source_records)
def fuzz_normalise(data: bytes) -> None:
    """The first byte picks the source; the rest is the record on its topic. Accepted events go
    through the merge engine, every moment of the dossier passed."""
    if not data:
        return
    system = SYSTEMS[data[0] % len(SYSTEMS)]
    try:
        event = normalise(system, data[1:], INGESTED)
    except NormaliseError:
        return
    engine = MergeEngine(POLICY, {}, lambda key: partition_of(key, 4))
    step = engine.on_event(partition_of(event.dossier_id.encode(), 4), event)
    if step.rejected is None:
        for partition in range(4):
            engine.advance(partition, datetime(2100, 1, 1, tzinfo=UTC))


@target("events", _event_record)
def fuzz_events(data: bytes) -> None:
    decode_event(data[:12] or None, data)


def _import(data: bytes, name: str, fmt: str, **job: object) -> None:
    path = WORK / name
    path.write_bytes(data)
    with contextlib.suppress(ImportFileError):  # a file-level refusal, with its message
        run_import(ImportJob(path=path, fmt=fmt, ingested_at=INGESTED, **job))  # type: ignore[arg-type]


def _wabo_lines() -> list[bytes]:
    from tests.unit.test_fuzz import WABO_HEADER

    row = "Internet,case-1,2011-12-06 13:41:31+01:00,General,,,G,R,2011-10-11 13:42:22+02:00,task-1," \
          "Confirmation of receipt,complete,G,R,2011-10-11 13:45:40+02:00"  # fmt: skip
    return [(",".join(WABO_HEADER) + "\n" + row + "\n").encode()]


@target("import-csv", _wabo_lines)
def fuzz_csv(data: bytes) -> None:
    _import(data, "log.csv", "csv", mapping=WABO)


@target("import-jsonl", lambda: [
    b'{"dossier_id":"D-1","source_event_id":"1","status":"RECEIVED","occurred_at":"2026-03-02T09:00:00+07:00"}\n'
])  # fmt: skip
def fuzz_jsonl(data: bytes) -> None:
    _import(data, "events.jsonl", "dossier-events", source="import")


@target("import-xes", lambda: [
    b'<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0"><trace>'
    b'<string key="concept:name" value="case-1"/><event><string key="concept:name" value="Confirmation of '
    b'receipt"/><date key="time:timestamp" value="2011-10-11T13:45:40.276+02:00"/><string '
    b'key="lifecycle:transition" value="complete"/></event></trace></log>'
])  # fmt: skip
def fuzz_xes(data: bytes) -> None:
    _import(data, "log.xes", "xes", mapping=WABO)


MAPPINGS = Path(__file__).resolve().parents[2] / "producers" / "mappings"


@target("mapping", lambda: [(MAPPINGS / "wabo-receipt.yaml").read_bytes()])
def fuzz_mapping(data: bytes) -> None:
    with contextlib.suppress(MappingError):
        parse_mapping(data.decode("utf-8", "replace"), "fuzz")


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(
            f"usage: python -m tests.fuzz.harness TARGET [libFuzzer options]; targets: {', '.join(TARGETS)}"
        )
    name, options = sys.argv[1], sys.argv[2:]
    shutil.rmtree(WORK, ignore_errors=True)
    corpus = WORK / "corpus"
    corpus.mkdir(parents=True)
    for i, seed in enumerate(SEEDS[name]()):
        (corpus / f"seed-{i}").write_bytes(seed)
    atheris.Setup([sys.argv[0], *options, str(corpus)], TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
