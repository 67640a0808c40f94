"""The broker says whether missing offsets hold a record (``streams.agents.offsets.GapProbe``)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from confluent_kafka import Producer

from contract.settings import Settings
from contract.topics import topics_for
from streams.agents.offsets import GapProbe

pytestmark = pytest.mark.integration


def test_a_record_is_told_from_a_transaction_marker(settings: Settings) -> None:
    topic = topics_for(settings).source("portal")
    producer = Producer({**settings.kafka.client_config(), "transactional.id": f"t-{uuid.uuid4().hex[:8]}"})
    producer.init_transactions(30)
    for n in range(2):  # offsets 0 and 2 hold records, 1 and 3 their commit markers
        producer.begin_transaction()
        producer.produce(topic, key=b"k", value=b"record %d" % n, partition=0)
        producer.commit_transaction(30)
    plain = Producer(settings.kafka.client_config())
    plain.produce(topic, key=b"k", value=b"record 2", partition=0)  # offset 4
    plain.flush(30)

    probe = GapProbe(settings.kafka.client_config(), f"{settings.worker.app_id}-gap-probe")

    def holds(first: int, last: int) -> bool | None:
        return asyncio.run(probe.holds_record(topic, 0, first, last))

    assert holds(0, 0) is True  # a record
    assert holds(1, 1) is False  # a marker: the next record is at 2
    assert holds(3, 3) is False
    assert holds(1, 2) is True  # a marker then a record
    assert holds(0, 3) is True
