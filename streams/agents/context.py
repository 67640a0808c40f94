"""What every agent installer is handed: the Faust app, topic names, metrics and settings.

Kept apart from ``streams.app`` (which builds it and calls the installers) so that agents and the
app do not import each other.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, NoReturn

import faust
from prometheus_client import CollectorRegistry

from contract.settings import Settings
from contract.topics import Topics
from monitoring.metrics import DongboMetrics

RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


@dataclass
class DongboApp:
    settings: Settings
    app: faust.App
    names: Topics
    registry: CollectorRegistry
    metrics: DongboMetrics
    topics: dict[str, faust.TopicT] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)
    # (topic, partition) -> the last offset an agent finished with (the wall clock's "caught up")
    done: dict[tuple[str, int], int] = field(default_factory=dict)

    def topic(self, name: str) -> faust.TopicT:
        if name not in self.topics:
            self.topics[name] = self.app.topic(name, partitions=self.settings.kafka.partitions, **RAW)
        return self.topics[name]


log = logging.getLogger(__name__)

FAIL_STOP_EXIT = 70  # EX_SOFTWARE: a supervisor (systemd, compose's restart policy) starts it again


def fail_stop(agent: str, batch: list[Any], exc: BaseException) -> NoReturn:
    """Stop the worker at once, committing nothing, when a batch could not be fully processed.

    Faust acknowledges the events of a ``take_events`` batch even when the body handling it raises,
    and commits what is acknowledged: a batch whose outputs were not all acknowledged, or whose
    states were not stored, would be skipped for good (a lost record). Exiting before the batch
    is acknowledged means it is redelivered to the restarted worker, or to another one, and
    produces the same records again (docs/guarantees.md#failure-policy). A bug in the rules so
    stops the worker loudly instead of skipping the event that revealed it."""
    first = batch[0].message if batch else None
    where = f" (first record {first.topic}[{first.partition}]@{first.offset})" if first is not None else ""
    log.critical("%s: a batch of %d record(s) failed%s; stopping without committing it: %r",
                 agent, len(batch), where, exc, exc_info=exc)  # fmt: skip
    logging.shutdown()
    os._exit(FAIL_STOP_EXIT)
