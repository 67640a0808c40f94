"""The merge engine's bookkeeping: per-partition stream time, timers, and the end-of-replay tick."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from contract.partitioning import partition_of
from streams.agents.merge import watermark_of, watermark_record
from streams.engine import MergeEngine
from streams.legal import LegalRules
from streams.merge import DEFAULT_POLICY
from streams.model import VN_TZ, Channel, DossierEvent, Status

POLICY = replace(DEFAULT_POLICY, rules=LegalRules.packaged())
RECEIVED = datetime(2026, 1, 9, 9, 0, tzinfo=VN_TZ)  # Friday, at the counter
D = "000.00.15.H17-260109-0001"


def received(dossier: str = D) -> DossierEvent:
    return DossierEvent(
        dossier_id=dossier, source="onestop", source_event_id="1", source_seq=1, status=Status.RECEIVED,
        occurred_at=RECEIVED, ingested_at=RECEIVED, procedure_code="2.001610", unit_code="000.00.15.H17",
        channel=Channel.COUNTER,
    )  # fmt: skip


def test_a_quiet_partition_fires_its_alerts_when_the_replay_ends() -> None:
    engine = MergeEngine(POLICY, {}, lambda key: partition_of(key, 12), stream_clock=True)
    p = partition_of(D.encode(), 12)
    [out] = engine.on_event(p, received(), RECEIVED)
    assert out.applied and out.state.due_at == datetime(2026, 1, 13, 9, 0, tzinfo=VN_TZ)
    assert engine.advance((p + 1) % 12, datetime(2026, 2, 1, tzinfo=VN_TZ)) == []  # another partition
    fired = engine.advance(p, datetime(2026, 1, 20, tzinfo=VN_TZ))
    assert [a for o in fired for a in o.alerts] == ["near_deadline", "overdue"]
    assert engine.advance(p, datetime(2026, 1, 21, tzinfo=VN_TZ)) == []  # once each
    assert engine.advance(p, datetime(2026, 1, 1, tzinfo=VN_TZ)) == []  # stream time never goes back


def test_the_wall_clock_ignores_watermarks() -> None:
    engine = MergeEngine(POLICY, {}, lambda key: partition_of(key, 12), stream_clock=False)
    p = partition_of(D.encode(), 12)
    engine.on_event(p, received(), RECEIVED)
    assert engine.advance(p, datetime(2026, 2, 1, tzinfo=VN_TZ)) == []
    assert engine.due(datetime(2026, 2, 1, tzinfo=VN_TZ)) == [D.encode()]  # the timer's job, live


def test_watermark_ticks_round_trip_and_junk_is_ignored() -> None:
    when = RECEIVED + timedelta(days=3)
    assert watermark_of(watermark_record(when)) == when
    assert watermark_of(b"") is None and watermark_of(None) is None
    assert watermark_of(b"watermark not-a-time") is None
    assert watermark_of(b"watermark 2026-01-01T00:00:00") is None  # no offset: refused
