"""A worker killed with SIGKILL recovers its table from the changelog and applies nothing twice."""

from __future__ import annotations

import random
import shutil
from datetime import datetime, timedelta

import pytest
from redis import Redis

from contract.topics import topics_for
from producers.publisher import Publisher
from schemas import codec
from sinks.redis_sink import keys_for
from streams.configured import worker_policy
from streams.merge import apply_event
from streams.model import VN_TZ, Channel, DossierEvent, Status, utcnow
from streams.state import DossierState
from tests.integration.kafka_util import read_topic, wait_for

pytestmark = pytest.mark.integration

FLOW = [Status.RECEIVED, Status.IN_PROGRESS, Status.SUPPLEMENT_REQUESTED, Status.SUPPLEMENT_RECEIVED,
        Status.IN_PROGRESS, Status.RESULT_READY, Status.RETURNED]  # fmt: skip


def workload(dossiers: int, seed: int) -> list[DossierEvent]:
    rnd = random.Random(seed)
    t0 = datetime(2026, 4, 6, 7, 30, tzinfo=VN_TZ)
    events = []
    for i in range(dossiers):
        d = f"TEST.{i:05d}"
        for source in ("onestop", "portal"):
            for j, status in enumerate(FLOW[: rnd.randint(2, len(FLOW))]):
                events.append(
                    DossierEvent(
                        dossier_id=d, source=source, source_event_id=f"{d}-{source}-{j}", source_seq=j,
                        status=status,
                        occurred_at=t0 + timedelta(minutes=37 * j + (3 if source == "portal" else 0)),
                        ingested_at=utcnow(), unit_code="UNIT", procedure_code="P", channel=Channel.COUNTER,
                    )
                )  # fmt: skip
    rnd.shuffle(events)
    # Every tenth event is sent twice (a source retrying).
    return events + events[::10]


def expected_states(events: list[DossierEvent], settings) -> dict[str, DossierState]:
    """What a worker that never died ends with: the pure rule, with the worker's policy, applied in
    the same per-key order (the events are months old: every tolerance and due time has passed
    for any 'now' of this run, so the wall clock does not change the result)."""
    policy = worker_policy(settings)
    states: dict[str, DossierState] = {}
    for e in events:
        states[e.dossier_id] = apply_event(states.get(e.dossier_id), e, utcnow(), policy).state
    return states


def test_sigkill_then_restart_ends_in_the_state_of_a_worker_that_never_died(settings, worker, tmp_path):
    events = workload(dossiers=300, seed=11)
    expected = expected_states(events, settings)
    names = topics_for(settings)
    w = worker()
    with Publisher(settings) as pub:
        pub.send_events(events[: len(events) // 2])
    # Let it get part of the way, then kill it without any chance to commit or flush.
    read_topic(settings, names.state, lambda m: len(m) >= 200, timeout=60)
    w.kill()
    # Throw the local RocksDB away too: the table must come back from the changelog alone.
    shutil.rmtree(settings.worker.data_dir, ignore_errors=True)
    with Publisher(settings) as pub:
        pub.send_events(events[len(events) // 2 :])
    worker()

    total = sum(1 for _ in expected)

    def latest(msgs):
        out: dict[str, dict] = {}
        for m in msgs:
            rec = codec.decode("vn.dongbo.DossierState", m.value())
            if rec["version"] >= out.get(rec["dossier_id"], {}).get("version", -1):
                out[rec["dossier_id"]] = rec
        return out

    def caught_up(msgs) -> bool:
        got = latest(msgs)
        return len(got) == total and all(got[d]["version"] == s.version for d, s in expected.items())

    # Generous: restoring the table from its changelog and catching up shares two cores with the
    # broker and Redis on a CI box (under a minute when the machine is idle).
    got = latest(read_topic(settings, names.state, caught_up, timeout=300))
    for d, state in expected.items():
        rec = got[d]
        assert rec["version"] == state.version, d  # a re-applied event would have bumped it
        assert rec["status"] == state.status
        for source, view in state.sources.items():
            assert rec["sources"][source]["events"] == view.events  # each event counted once

    redis = Redis.from_url(settings.redis.url)
    keys = keys_for(settings)

    def redis_caught_up() -> bool:
        pipe = redis.pipeline()
        for d in expected:
            pipe.hget(keys.dossier(d), "version")
        return [int(v or -1) for v in pipe.execute()] == [s.version for s in expected.values()]

    wait_for(redis_caught_up, timeout=30, what="Redis holds every final version")
    assert int(redis.hget(keys.stats, "all") or 0) == total
    # Statistics are views of state: the live counters equal a recount of the stored states.
    by_status: dict[str, int] = {}
    for state in expected.values():
        by_status[state.status or "NONE"] = by_status.get(state.status or "NONE", 0) + 1
    for status, n in by_status.items():
        assert int(redis.hget(keys.stats, f"status={status}") or 0) == n
        assert redis.scard(keys.members(f"status={status}")) == n
