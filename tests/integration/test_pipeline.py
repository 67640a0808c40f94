"""End to end on the real broker and Redis: events from two sources become one merged state."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from redis import Redis

from producers.publisher import Publisher
from schemas import codec
from sinks.lookup import get_state
from streams.model import VN_TZ, Channel, DossierEvent, Status, utcnow
from tests.integration.kafka_util import read_topic, wait_for

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=VN_TZ)


def ev(
    dossier: str, source: str, sid: str, status: Status, minutes: int, seq: int | None = None
) -> DossierEvent:
    return DossierEvent(
        dossier_id=dossier,
        source=source,
        source_event_id=sid,
        source_seq=seq,
        status=status,
        occurred_at=T0 + timedelta(minutes=minutes),
        ingested_at=utcnow(),
        procedure_code="1.001193",
        unit_code="000.00.15.H17",
        channel=Channel.ONLINE,
    )


def states_of(settings, dossier: str, messages) -> list[dict]:
    return [
        codec.decode("vn.dongbo.DossierState", m.value()) for m in messages if m.key() == dossier.encode()
    ]


def test_two_sources_out_of_order_with_duplicate_merge_into_one_state(settings, worker):
    worker()
    d = "000.00.15.H17-260302-0001"
    onestop = [
        ev(d, "onestop", "os-1", Status.RECEIVED, 0, seq=1),
        ev(d, "onestop", "os-2", Status.IN_PROGRESS, 30, seq=2),
        ev(d, "onestop", "os-3", Status.RESULT_READY, 240, seq=3),
    ]
    portal = [
        ev(d, "portal", "p-1", Status.SUBMITTED, -60),
        ev(d, "portal", "p-2", Status.RECEIVED, 5),
        ev(d, "portal", "p-3", Status.IN_PROGRESS, 45),
    ]
    # Out of order across and within sources, one duplicate of each source.
    sent = [onestop[2], portal[1], onestop[0], portal[2], onestop[2], portal[0], onestop[1], portal[1]]
    with Publisher(settings) as pub:
        pub.send_events(sent)

    def settled(msgs) -> bool:
        st = states_of(settings, d, msgs)
        return (
            bool(st)
            and st[-1]["sources"].get("portal", {}).get("events") == 3
            and (st[-1]["sources"].get("onestop", {}).get("events") == 3)
        )

    msgs = read_topic(settings, settings_topic(settings), settled, timeout=60)
    final = states_of(settings, d, msgs)[-1]
    assert final["status"] == "RESULT_READY"
    assert final["sources"]["onestop"]["status"] == "RESULT_READY"
    assert final["sources"]["portal"]["status"] == "IN_PROGRESS"  # the portal lags: its own view is kept
    assert final["submitted_at"] == T0 - timedelta(hours=1)
    assert final["received_at"] == T0  # the one-stop system's desk time
    assert final["ended_at"] == T0 + timedelta(minutes=240)
    versions = [s["version"] for s in states_of(settings, d, msgs)]
    assert versions == sorted(versions)
    assert max(versions) <= 6  # 6 distinct events at most 6 visible changes; duplicates add none

    redis = Redis.from_url(settings.redis.url)
    stored = wait_for(
        lambda: (s := get_state(settings, d, redis)) and s["version"] == final["version"] and s,
        timeout=30,
        what="Redis holds the final state",
    )
    assert stored["status"] == "RESULT_READY"
    assert set(stored["sources"]) == {"onestop", "portal"}


def settings_topic(settings) -> str:
    from contract.topics import topics_for

    return topics_for(settings).state
