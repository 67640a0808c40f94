"""The merge agent: canonical events in, one state per dossier (table), unified state out.

A thin loop around ``streams.merge.apply_event``; decoding failures go to the dead-letter topic.

The clock (``DONGBO_WORKER_CLOCK``): ``wall`` live, where a timer sends ticks for dossiers whose
moment has come; ``stream`` for replays, imports and simulations, where time is the latest event
time seen on the partition (its watermark) and due moments are handled inline as it passes them,
so replaying a month fires that month's alerts in order, as they would have fired live.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aiokafka.partitioner import murmur2

from dongbo.settings import Settings
from schemas import codec
from streams.clock import WallClock
from streams.conflicts import Conflict, ConflictPolicy
from streams.deadletter import DeadLetter
from streams.legal import LegalRules
from streams.merge import (
    DEFAULT_POLICY,
    MergePolicy,
    MergeResult,
    apply_event,
    conflict_changes,
    evaluate,
    new_alerts,
)
from streams.model import DossierEvent, utcnow
from streams.state import DossierState
from streams.statecache import StateCache
from streams.timers import TimerIndex, state_next_moment

if TYPE_CHECKING:
    from streams.app import DongboApp

log = logging.getLogger(__name__)

TABLE = "dossiers"


@dataclass(frozen=True)
class Rejected:
    reason: str
    detail: str


def decode_event(key: bytes | None, value: bytes | None) -> DossierEvent | Rejected:
    """Bytes from ``dossier.events`` to an event, or the reason it cannot be used."""
    if value is None:
        return Rejected("missing_value", "record has no value (tombstone on an event topic)")
    try:
        event = DossierEvent.from_record(codec.decode("vn.dongbo.DossierEvent", value))
    except codec.DecodeError as exc:
        return Rejected(exc.reason, exc.detail)
    except (KeyError, ValueError, TypeError) as exc:
        return Rejected("missing_field", f"{type(exc).__name__}: {exc}")
    if key is not None and key.decode(errors="replace") != event.dossier_id:
        # The key decides the partition and so the worker that owns the dossier's state: a wrong
        # key would split one dossier's state across workers.
        return Rejected("key_mismatch", f"key {key!r} is not the dossier id {event.dossier_id!r}")
    return event


def partition_of(key: bytes, partitions: int) -> int:
    """The partition the producers' murmur2 partitioner (Java's, aiokafka's) gives a key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def worker_policy(settings: Settings) -> MergePolicy:
    """The merge policy a worker runs with: tolerances from its settings, the legal rules loaded."""
    ws = settings.worker
    return replace(
        DEFAULT_POLICY,
        conflicts=ConflictPolicy(
            default_tolerance=timedelta(seconds=ws.ministry_tolerance),
            tolerances={frozenset({"onestop", "portal"}): timedelta(seconds=ws.sync_tolerance)},
            presence_tolerance=timedelta(seconds=ws.presence_tolerance),
        ),
        rules=LegalRules.from_settings(),
    )


def install(dapp: DongboApp) -> None:
    app, names, metrics, ws = dapp.app, dapp.names, dapp.metrics, dapp.settings.worker
    n_partitions = dapp.settings.kafka.partitions
    table = app.Table(
        TABLE,
        default=None,
        partitions=n_partitions,
        key_type=bytes,
        value_type=bytes,  # raw bytes: the app's default serializers are "raw"
        help="per-dossier state with its event history (JSON)",
    )
    dapp.tables[TABLE] = table
    state_topic = dapp.topic(names.state)
    dlq_topic = dapp.topic(names.dlq)
    conflicts_topic = dapp.topic(names.conflicts)
    deadlines_topic = dapp.topic(names.deadlines)
    ticks_topic = dapp.topic(names.ticks)
    policy = worker_policy(dapp.settings)
    stream_clock = ws.clock == "stream"
    timers: dict[int, TimerIndex] = {}  # per partition: a partition's moments are handled in its context
    watermarks: dict[int, datetime] = {}
    assigned: set[object] = set()
    cache = StateCache(policy=policy)
    clock = WallClock(ws.clock_start)

    async def dead_letter(msg_topic: str, partition: int, offset: int, key: bytes | None,
                          value: bytes | None, reason: str, detail: str) -> None:  # fmt: skip
        log.warning("dead letter %s[%d]@%d: %s (%s)", msg_topic, partition, offset, reason, detail)
        metrics.dead_letters.labels("merge", reason).inc()
        letter = DeadLetter(reason, detail, "merge", msg_topic, partition, offset, key, value, utcnow())
        await dlq_topic.send(key=key, value=letter.encode())

    async def publish(key: bytes, old: DossierState | None, result: MergeResult, republish: bool) -> None:
        new = result.state
        if result.changed or result.applied:
            raw = new.dumps()
            table[key] = raw  # assigned back, or it never reaches the changelog
            cache.put(key, raw, new)
        if result.changed:
            metrics.state_changes.inc()
        if result.changed or republish:
            await state_topic.send(key=key, value=codec.encode("vn.dongbo.DossierState", new.to_record()))
        opened, resolved = conflict_changes(old, new)
        for change, items in (("OPENED", opened), ("RESOLVED", resolved)):
            for c in items:
                metrics.conflicts.labels(c.kind, change.lower()).inc()
                await conflicts_topic.send(key=key, value=conflict_record(new, c, change))
        for kind in new_alerts(old, new):
            metrics.alerts.labels(kind).inc()
            await deadlines_topic.send(key=key, value=alert_record(new, kind))
        index = timers.setdefault(partition_of(key, n_partitions), TimerIndex())
        index.schedule(key, state_next_moment(new, policy))

    async def look_again(key: bytes, now: datetime) -> None:
        """Time has passed for this dossier: re-evaluate it with no new event."""
        current = cache.load(key, table.get(key))
        if current is not None:
            await publish(key, current, evaluate(current, now, policy), republish=False)

    @app.agent(app.topic(names.events, names.ticks, partitions=n_partitions,
                         key_type=bytes, value_type=bytes), name="merge")  # fmt: skip
    async def merge(stream):
        async for event in stream.events():
            started = time.perf_counter()
            msg = event.message
            wall = clock.now()
            if msg.topic == names.ticks:
                await look_again(msg.key, wall)
                continue
            decoded = decode_event(msg.key, msg.value)
            if isinstance(decoded, Rejected):
                await dead_letter(msg.topic, msg.partition, msg.offset, msg.key, msg.value,
                                  decoded.reason, decoded.detail)  # fmt: skip
                continue
            now = wall
            if stream_clock:
                mark = max(watermarks.get(msg.partition, decoded.occurred_at), decoded.occurred_at)
                watermarks[msg.partition] = now = mark
                # Moments the watermark passed, in order, before this event is applied.
                for key in timers.get(msg.partition, TimerIndex()).pop_due(now):
                    await look_again(key, now)
            key = decoded.dossier_id.encode()
            state = cache.load(key, table.get(key))
            result = apply_event(state, decoded, now, policy)
            metrics.events.labels(decoded.source, "applied" if result.applied else "duplicate").inc()
            metrics.event_lag_seconds.labels(decoded.source).observe(
                max(0.0, (decoded.ingested_at - decoded.occurred_at).total_seconds())
            )
            metrics.source_last_event.labels(decoded.source).set(wall.timestamp())
            # A redelivered event (after a crash) re-publishes the current state: the first
            # publication may have been lost with the crash. Sinks keep the highest version.
            await publish(key, state, result, republish=not result.applied)
            metrics.process_seconds.observe(time.perf_counter() - started)

    @app.timer(interval=ws.tick_interval)
    async def tick() -> None:
        current = set(app.consumer.assignment()) if app.consumer else set()
        if current != assigned:
            # A rebalance: rebuild the index from the states this worker now owns.
            assigned.clear()
            assigned.update(current)
            timers.clear()
            for key, raw in list(table.items()):
                state = DossierState.loads(raw, policy)
                index = timers.setdefault(partition_of(key, n_partitions), TimerIndex())
                index.schedule(key, state_next_moment(state, policy))
        if stream_clock:
            return  # stream time moves with the events, handled inline
        now = clock.now()
        for index in timers.values():
            for key in index.pop_due(now):
                await ticks_topic.send(key=key, value=b"")


def conflict_record(state: DossierState, c: Conflict, change: str) -> bytes:
    return codec.encode(
        "vn.dongbo.ConflictEvent",
        {
            "dossier_id": state.dossier_id,
            "change": change,
            "kind": c.kind,
            "systems": list(c.systems),
            "detail": c.detail,
            "values": dict(c.values),
            "since": c.since,
            "at": state.evaluated_at or utcnow(),
            "state_version": state.version,
        },
    )


def alert_record(state: DossierState, kind: str) -> bytes:
    return codec.encode(
        "vn.dongbo.DeadlineAlert",
        {
            "dossier_id": state.dossier_id,
            "kind": kind,
            "due_at": state.extended_due_at or state.due_at,
            "unit_code": state.unit_code,
            "procedure_code": state.procedure_code,
            "status": state.status.value if state.status else None,
            "at": state.evaluated_at or utcnow(),
            "state_version": state.version,
        },
    )
