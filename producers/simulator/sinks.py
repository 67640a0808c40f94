"""Where the simulated records go: Kafka (through ``Publisher``), files, or nowhere (dry run).

Files are one JSON Lines file per source topic, ``<dir>/src.<system>.dossier.jsonl``, each line
``{"deliver_at", "key", "headers", "value"}`` with the Avro bytes in base64: the same bytes the
Kafka sink would publish, in the same order, so tests and benchmarks need no broker.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol

from contract.settings import Settings
from contract.topics import Topics, topics_for


class Sink(Protocol):
    sent: Counter[str]

    def send(
        self, system: str, key: str, value: bytes, headers: dict[str, str], deliver_at: datetime
    ) -> None: ...

    def close(self) -> None: ...


class NullSink:
    """``--dry-run``: count what would be sent."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def send(
        self, system: str, key: str, value: bytes, headers: dict[str, str], deliver_at: datetime
    ) -> None:
        self.sent[system] += 1

    def close(self) -> None:
        pass


class KafkaSink:
    """Each system's records on its own topic ``src.<system>.dossier``, keyed by dossier code."""

    def __init__(self, settings: Settings) -> None:
        from contract.topics import ensure_topics
        from producers.publisher import Publisher  # confluent-kafka only when publishing

        # Topics auto-created by a producer would get the broker's partition count, not ours.
        ensure_topics(settings)
        self.topics: Topics = topics_for(settings)
        self._publisher = Publisher(settings)
        self.sent: Counter[str] = Counter()

    def send(
        self, system: str, key: str, value: bytes, headers: dict[str, str], deliver_at: datetime
    ) -> None:
        self._publisher.send(self.topics.source(system), key, value, headers)
        self.sent[system] += 1

    def close(self) -> None:
        self._publisher.flush()


class DirSink:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, IO[str]] = {}
        self.sent: Counter[str] = Counter()

    def send(
        self, system: str, key: str, value: bytes, headers: dict[str, str], deliver_at: datetime
    ) -> None:
        f = self._files.get(system)
        if f is None:
            f = self._files[system] = (self.directory / file_name(system)).open("w", encoding="utf-8")
        line = {
            "deliver_at": deliver_at.isoformat(),
            "key": key,
            "headers": headers,
            "value": base64.b64encode(value).decode("ascii"),
        }
        f.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.sent[system] += 1

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def __enter__(self) -> DirSink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def file_name(system: str) -> str:
    return f"src.{system}.dossier.jsonl"


@dataclass(frozen=True)
class OutRecord:
    system: str
    key: str
    headers: dict[str, str]
    value: bytes
    deliver_at: datetime


def read_records(directory: Path, system: str) -> Iterator[OutRecord]:
    """The records ``DirSink`` wrote for ``system``, in the order they were sent."""
    path = directory / file_name(system)
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            yield OutRecord(
                system=system,
                key=doc["key"],
                headers=doc["headers"],
                value=base64.b64decode(doc["value"]),
                deliver_at=datetime.fromisoformat(doc["deliver_at"]),
            )
