"""Conflicts on the real broker: opened by the clock with no further event, resolved once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contract.settings import Settings
from contract.topics import topics_for
from producers.publisher import Publisher
from schemas import codec
from streams.model import Channel, DossierEvent, Status, utcnow
from tests.integration.kafka_util import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """This module's settings: tolerances of seconds instead of hours, to watch them run out."""
    worker = settings.worker.model_copy(
        update={"sync_tolerance": 3.0, "presence_tolerance": 3.0, "tick_interval": 0.5}
    )
    return settings.model_copy(update={"worker": worker})


def ev(dossier: str, source: str, sid: str, status: Status, ago: float, due_days: int | None = None):
    now = utcnow()
    return DossierEvent(
        dossier_id=dossier, source=source, source_event_id=sid, status=status,
        occurred_at=now - timedelta(seconds=ago), ingested_at=now, channel=Channel.ONLINE,
        due_at=(now + timedelta(days=due_days)) if due_days else None,
    )  # fmt: skip


def conflicts(settings, messages) -> list[tuple[str, str, str]]:
    out = []
    for m in messages:
        rec = codec.decode("vn.dongbo.ConflictEvent", m.value())
        out.append((rec["dossier_id"], rec["kind"], rec["change"]))
    return out


def test_each_conflict_kind_opens_once_and_resolves_once(settings, worker):
    fast_settings = settings
    names = topics_for(fast_settings)
    worker()
    with Publisher(fast_settings) as pub:
        # status mismatch: one-stop moved on, the portal did not follow (opens by the clock alone)
        pub.send_events([ev("MISMATCH", "onestop", "o1", Status.RESULT_READY, 0),
                         ev("MISMATCH", "portal", "p1", Status.IN_PROGRESS, 60)])  # fmt: skip
        # contradictory terminal outcomes: at once
        pub.send_events([ev("CONTRA", "onestop", "o1", Status.REJECTED, 0),
                         ev("CONTRA", "portal", "p1", Status.RETURNED, 0)])  # fmt: skip
        # appointment dates that differ
        pub.send_events([ev("DUE", "onestop", "o1", Status.RECEIVED, 0, due_days=3),
                         ev("DUE", "portal", "p1", Status.RECEIVED, 0, due_days=4)])  # fmt: skip
        # received in the one-stop system, never reached the portal
        pub.send_events([ev("ABSENT", "onestop", "o1", Status.RECEIVED, 0)])

    expected_open = {
        ("MISMATCH", "status_mismatch", "OPENED"),
        ("CONTRA", "terminal_contradiction", "OPENED"),
        ("DUE", "due_date_mismatch", "OPENED"),
        ("ABSENT", "missing_in_system", "OPENED"),
    }
    msgs = read_topic(
        fast_settings,
        names.conflicts,
        lambda m: expected_open <= set(conflicts(fast_settings, m)),
        timeout=60,
    )
    got = conflicts(fast_settings, msgs)
    assert sorted(got) == sorted(expected_open)  # opened once each, nothing else

    # The portal catches up: each disagreement is resolved, once.
    with Publisher(fast_settings) as pub:
        pub.send_events([ev("MISMATCH", "portal", "p2", Status.RESULT_READY, 0),
                         ev("DUE", "portal", "p2", Status.RECEIVED, 0, due_days=3),
                         ev("ABSENT", "portal", "p1", Status.RECEIVED, 0)])  # fmt: skip
    resolved = {
        ("MISMATCH", "status_mismatch", "RESOLVED"),
        ("ABSENT", "missing_in_system", "RESOLVED"),
        ("DUE", "due_date_mismatch", "RESOLVED"),
    }
    seen: list = []

    def all_resolved(m) -> bool:
        seen[:] = conflicts(fast_settings, m)
        return resolved <= set(seen)

    try:
        msgs = read_topic(fast_settings, names.conflicts, all_resolved, timeout=30)
    except AssertionError:
        print("SEEN", seen)
        raise
    got = conflicts(fast_settings, msgs)
    assert got.count(("MISMATCH", "status_mismatch", "RESOLVED")) == 1
    assert got.count(("ABSENT", "missing_in_system", "RESOLVED")) == 1
    assert got.count(("DUE", "due_date_mismatch", "RESOLVED")) == 1
    assert ("CONTRA", "terminal_contradiction", "RESOLVED") not in got
