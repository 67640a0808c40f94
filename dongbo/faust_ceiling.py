"""Faust's own ceilings here, for ``dongbo bench``: how fast a Faust agent goes doing almost nothing.

Two agents over the same canonical events as the worker reads, in a process of their own (as a
worker runs): ``decode`` only iterates in batches and decodes each record; ``table`` also keeps
the latest status of each dossier in a RocksDB-backed Faust table, written once per key per batch
(each write filed under an event of its key's partition, as the merge agent does). Every dongbo
figure reads as a share of these. Run by ``dongbo bench``:

    python -m dongbo.faust_ceiling MODE TOPIC EXPECTED RESULT_FILE

with the settings in the environment; it writes ``{"count": n, "seconds": s}`` to RESULT_FILE once
EXPECTED records have been read (timed from the first batch) and goes on idling until stopped.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import faust

from contract.settings import Settings, get_settings
from schemas import codec
from streams.agents.merge import acting_for

MODES = ("decode", "table")


def build(settings: Settings, mode: str, topic: str, expected: int, result: Path) -> faust.App:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    n_partitions = settings.kafka.partitions
    datadir = settings.worker.data_dir / f"ceiling-{mode}"
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        f"dongbo-ceiling-{mode}-{uuid.uuid4().hex[:6]}", broker=f"kafka://{settings.kafka.bootstrap}",
        store="rocksdb://", datadir=str(datadir),
        topic_partitions=n_partitions, topic_replication_factor=settings.kafka.replication,
        processing_guarantee="at_least_once", consumer_auto_offset_reset="earliest",
        key_serializer="raw", value_serializer="raw", web_enabled=False, stream_wait_empty=False,
        producer_linger_ms=5,
    )  # fmt: skip
    table = app.Table("latest", default=None, partitions=n_partitions, key_type=bytes, value_type=bytes)
    source = app.topic(topic, key_type=bytes, value_type=bytes, partitions=n_partitions)
    seen: dict[str, Any] = {"count": 0, "began": 0.0, "done": False}

    @app.agent(source)
    async def consume(stream: Any) -> None:
        async for batch in stream.take_events(1000, within=0.5):
            if not seen["count"]:
                seen["began"] = time.perf_counter()
            records = [codec.decode("vn.dongbo.DossierEvent", e.message.value) for e in batch]
            if mode == "table":  # the latest status of each dossier in the batch, one write per key
                latest = {e.message.key: (e, r["status"]) for e, r in zip(batch, records, strict=True)}
                for key, (event, status) in latest.items():
                    with acting_for(event):
                        table[key] = status.encode()
            seen["count"] += len(batch)
            if seen["count"] >= expected and not seen["done"]:
                seen["done"] = True
                _report(result, seen["count"], time.perf_counter() - seen["began"])

    return app


def _report(result: Path, count: int, seconds: float) -> None:
    result.write_text(json.dumps({"count": count, "seconds": seconds}))


def main() -> None:
    mode, topic, expected, result = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    del sys.argv[1:]  # Faust's worker reads the command line too
    app = build(get_settings(), mode, topic, expected, result)
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
