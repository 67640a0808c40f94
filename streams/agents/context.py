"""What every agent installer is handed: the Faust app, topic names, metrics and settings.

Kept apart from ``streams.app`` (which builds it and calls the installers) so that agents and the
app do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
