"""Stream clock on the real broker: a replayed dossier with no event after its receipt gets its
alerts, in order and each at its own moment, once `dongbo watermark` moves stream time to the end
of the replay; before that, nothing fires (stream time stands at the partition's last event)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from contract.settings import Settings
from contract.topics import topics_for
from dongbo.watermark import close_replay
from producers.publisher import Publisher
from schemas import codec
from streams.model import VN_TZ, Channel, DossierEvent, Status
from tests.integration.kafka_util import read_topic

pytestmark = pytest.mark.integration

# A certified extract (1.001766), 4 working hours: received Wed 4 March 2026 08:00, due 13:30.
RECEIVED = datetime(2026, 3, 4, 8, 0, tzinfo=VN_TZ)
DUE = datetime(2026, 3, 4, 13, 30, tzinfo=VN_TZ)
END = datetime(2026, 3, 10, tzinfo=VN_TZ)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # One source (the one-stop) feeds this city, and no alert grace: the test is about the watermark.
    ws = settings.worker.model_copy(
        update={"clock": "stream", "watermark_sources": "onestop", "alert_grace": 0.0}
    )
    return settings.model_copy(update={"worker": ws})


def test_the_end_of_replay_watermark_fires_what_fell_due_after_the_last_event(settings, worker):
    names = topics_for(settings)
    worker()
    received = DossierEvent(
        dossier_id="QUIET", source="onestop", source_event_id="QUIET-rcv", source_seq=1,
        status=Status.RECEIVED, occurred_at=RECEIVED, ingested_at=RECEIVED, procedure_code="1.001766",
        unit_code="000.00.15.H17", channel=Channel.COUNTER,
    )  # fmt: skip
    with Publisher(settings) as pub:
        pub.send_events([received])

    def alerts(messages: list) -> list[dict]:
        return [codec.decode("vn.dongbo.DeadlineAlert", m.value()) for m in messages]

    # A 4-hour limit is near its deadline from the receipt on; but stream time stands at 08:00 on
    # that partition, so the overdue alert waits, however long (no event will come).
    assert read_topic(settings, names.state, lambda m: len(m) >= 1, timeout=60)
    first = alerts(read_topic(settings, names.deadlines, lambda m: len(m) >= 1, timeout=60))
    assert [r["kind"] for r in first] == ["near_deadline"] and first[0]["at"] == RECEIVED
    with pytest.raises(AssertionError, match="read 1 message"):
        read_topic(settings, names.deadlines, lambda m: len(m) > 1, timeout=5)

    assert close_replay(settings, END, timeout=60) == 0
    records = alerts(read_topic(settings, names.deadlines, lambda m: len(m) >= 2, timeout=60))
    assert [(r["dossier_id"], r["kind"]) for r in records] == [
        ("QUIET", "near_deadline"),
        ("QUIET", "overdue"),
    ]
    # Judged at its own moment, as live, not at the end of the replay.
    assert DUE <= records[1]["at"] < DUE + timedelta(seconds=1)
