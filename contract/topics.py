"""Topic names and their creation with the intended partition count.

dongbo creates every topic itself: a table's changelog must have as many partitions as its source
topic, and a topic auto-created by a producer would get the broker's default count instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from contract.settings import Settings
from contract.sources import SOURCE_SYSTEMS


@dataclass(frozen=True)
class Topics:
    prefix: str = ""

    def _t(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def source(self, system: str) -> str:
        return self._t(f"src.{system}.dossier")

    @property
    def events(self) -> str:
        return self._t("dossier.events")

    @property
    def state(self) -> str:
        return self._t("dossier.state")

    @property
    def conflicts(self) -> str:
        return self._t("dossier.conflicts")

    @property
    def deadlines(self) -> str:
        return self._t("dossier.deadlines")

    @property
    def ticks(self) -> str:
        """Internal: 'look at this dossier again' from the due-time index to the merge agent."""
        return self._t("dossier.ticks")

    @property
    def dlq(self) -> str:
        return self._t("dossier.dlq")

    def all(self) -> dict[str, dict[str, str]]:
        """Every topic dongbo owns, with its topic-level config."""
        compacted = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
        week = {"retention.ms": str(7 * 24 * 3600 * 1000)}
        keep = {"retention.ms": str(90 * 24 * 3600 * 1000)}
        # A raw record as large as a source topic takes must fit, whole, in its dead letter.
        raw = {**week, "max.message.bytes": str(RAW_RECORD_MAX)}
        topics: dict[str, dict[str, str]] = {self.source(s): raw for s in SOURCE_SYSTEMS}
        topics.update(
            {
                self.events: keep,
                self.state: compacted,
                self.conflicts: keep,
                self.deadlines: keep,
                self.dlq: {**keep, "max.message.bytes": str(DEAD_LETTER_MAX)},
                self.ticks: {"retention.ms": str(24 * 3600 * 1000)},
            }
        )
        return topics


# Record size limits (bytes). A source topic takes raw records up to RAW_RECORD_MAX (the broker's
# usual 1 MiB); the dead-letter topic, and the worker's producer requests, take twice that and
# some, so a raw record of any size a source topic accepts is kept whole in its dead letter with
# the wrapper's fields (reason, detail, where it came from). streams.deadletter keeps a larger one
# (a topic whose limit an operator raised) truncated, with its size and SHA-256.
RAW_RECORD_MAX = 1_048_576
DEAD_LETTER_MAX = 2 * RAW_RECORD_MAX + 65_536
PRODUCER_REQUEST_MAX = DEAD_LETTER_MAX


def topics_for(settings: Settings) -> Topics:
    return Topics(settings.worker.topic_prefix)


def ensure_topics(settings: Settings, extra: dict[str, dict[str, str]] | None = None) -> list[str]:
    """Create missing topics; return the names created. Existing topics are left as they are."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(settings.kafka.client_config())
    wanted = {**topics_for(settings).all(), **(extra or {})}
    existing = set(admin.list_topics(timeout=10).topics)
    new = [
        NewTopic(name, settings.kafka.partitions, settings.kafka.replication, config=config)
        for name, config in wanted.items()
        if name not in existing
    ]
    if not new:
        return []
    created = []
    for name, fut in admin.create_topics(new, operation_timeout=30).items():
        try:
            fut.result()
            created.append(name)
        except Exception as exc:
            # Another process may have created it between list and create: that is fine.
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    _wait_for_leaders(admin, list(wanted))
    return sorted(created)


def _wait_for_leaders(admin: Any, names: list[str], timeout: float = 30.0) -> None:
    """Until every partition of ``names`` has a leader. A topic is created before its partitions
    have one; a worker that starts in between sees the topic as missing and, on a fresh broker,
    gets no partitions until the next rebalance (nothing is consumed)."""
    deadline = time.monotonic() + timeout
    while True:
        topics = admin.list_topics(timeout=10).topics
        waiting = [
            n for n in names
            if n not in topics or topics[n].error is not None
            or any(p.leader < 0 for p in topics[n].partitions.values())
        ]  # fmt: skip
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"topics without a leader after {timeout:.0f}s: {', '.join(sorted(waiting))}")
        time.sleep(0.2)
