"""The simulator on the real broker: every source topic receives its system's records, keyed by dossier."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from contract.settings import Settings
from contract.sources import CAPTURED_AT, RAW_SCHEMAS
from contract.topics import topics_for
from producers.simulator import SimulationConfig, fault_preset, run_simulation
from producers.simulator.vocab import SYSTEMS
from streams.model import utcnow
from streams.normalise import normalise
from streams.normalise.sources import captured_at
from tests.integration.kafka_util import read_topic

pytestmark = pytest.mark.integration


def test_a_small_city_reaches_every_source_topic_keyed_by_dossier(settings: Settings, tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.jsonl"
    lines: list[str] = []
    summary = run_simulation(
        settings,
        SimulationConfig(seed=21, dossiers=400, days=2, faults=fault_preset("default")),
        truth_path=truth_path,
        progress=lines.append,
    )
    truth = {json.loads(line)["dossier_id"]: json.loads(line) for line in truth_path.read_text().splitlines()}
    assert set(summary.records) == set(SYSTEMS) and lines[-1].startswith("done:")
    names = topics_for(settings)
    now = utcnow()
    for system in SYSTEMS:
        expected = summary.records[system]

        def arrived(msgs: list[Any], n: int = expected) -> bool:
            return len(msgs) >= n

        messages = read_topic(settings, names.source(system), arrived, timeout=60)
        assert len(messages) == expected
        keys: Counter[str] = Counter()
        for msg in messages:
            key = msg.key().decode()
            assert key in truth and system in truth[key]["systems"]
            headers = {k: v.decode() for k, v in msg.headers() or []}
            captured = datetime.fromisoformat(headers.pop(CAPTURED_AT))  # the simulated send time
            assert headers == {"event_type": RAW_SCHEMAS[system], "source": system}
            event = normalise(system, msg.value(), captured_at(msg.headers(), now))
            assert event.dossier_id == key and event.ingested_at == captured
            keys[key] += 1
        holders = {d for d, t in truth.items() if system in t["source_status"]}
        # Every dossier the system holds (by the end of the run; a few more are still in flight)
        assert holders <= set(keys)
