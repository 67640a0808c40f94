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
from dataclasses import dataclass
from datetime import datetime

from contract.partitioning import partition_of
from schemas import codec
from streams.agents.context import DongboApp
from streams.clock import WallClock
from streams.configured import worker_policy
from streams.deadletter import DeadLetter
from streams.engine import MergeEngine, Output
from streams.model import DossierEvent, utcnow
from streams.state import Conflict, DossierState

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
    engine = MergeEngine(
        worker_policy(dapp.settings),
        table,
        lambda key: partition_of(key, n_partitions),
        stream_clock=ws.clock == "stream",
    )
    assigned: set[object] = set()
    clock = WallClock(ws.clock_start)

    async def dead_letter(msg_topic: str, partition: int, offset: int, key: bytes | None,
                          value: bytes | None, reason: str, detail: str) -> None:  # fmt: skip
        log.warning("dead letter %s[%d]@%d: %s (%s)", msg_topic, partition, offset, reason, detail)
        metrics.dead_letters.labels("merge", reason).inc()
        letter = DeadLetter(reason, detail, "merge", msg_topic, partition, offset, key, value, utcnow())
        await dlq_topic.send(key=key, value=letter.encode())

    async def publish(out: Output) -> None:
        new = out.state
        if out.changed:
            metrics.state_changes.inc()
        if out.send_state:
            await state_topic.send(key=out.key, value=codec.encode("vn.dongbo.DossierState", new.to_record()))
        for change, items in (("OPENED", out.opened), ("RESOLVED", out.resolved)):
            for c in items:
                metrics.conflicts.labels(c.kind, change.lower()).inc()
                await conflicts_topic.send(key=out.key, value=conflict_record(new, c, change))
        for kind in out.alerts:
            metrics.alerts.labels(kind).inc()
            await deadlines_topic.send(key=out.key, value=alert_record(new, kind))

    @app.agent(app.topic(names.events, names.ticks, partitions=n_partitions,
                         key_type=bytes, value_type=bytes), name="merge")  # fmt: skip
    async def merge(stream):
        async for event in stream.events():
            started = time.perf_counter()
            msg = event.message
            wall = clock.now()
            if msg.topic == names.ticks:
                mark = watermark_of(msg.value)
                if mark is not None:
                    for out in engine.advance(msg.partition, mark):
                        await publish(out)
                    continue
                looked = engine.look_again(msg.key, wall)
                if looked is not None:
                    await publish(looked)
                continue
            decoded = decode_event(msg.key, msg.value)
            if isinstance(decoded, Rejected):
                await dead_letter(msg.topic, msg.partition, msg.offset, msg.key, msg.value,
                                  decoded.reason, decoded.detail)  # fmt: skip
                continue
            step = engine.on_event(msg.partition, decoded, wall)
            for out in step.outputs:
                await publish(out)
            if step.rejected is not None:
                await dead_letter(msg.topic, msg.partition, msg.offset, msg.key, msg.value,
                                  step.rejected.reason, step.rejected.detail)  # fmt: skip
                continue
            metrics.events.labels(decoded.source, "applied" if step.applied else "duplicate").inc()
            metrics.event_lag_seconds.labels(decoded.source).observe(
                max(0.0, (decoded.ingested_at - decoded.occurred_at).total_seconds())
            )
            metrics.source_last_event.labels(decoded.source).set(wall.timestamp())
            metrics.process_seconds.observe(time.perf_counter() - started)

    @app.timer(interval=ws.tick_interval)
    async def tick() -> None:
        current = set(app.consumer.assignment()) if app.consumer else set()
        if current != assigned:
            # A rebalance: rebuild the index from the states this worker now owns.
            assigned.clear()
            assigned.update(current)
            engine.rebuild_timers(list(table.items()))
        if engine.stream_clock:
            return  # stream time moves with the events, handled inline
        for key in engine.due(clock.now()):
            await ticks_topic.send(key=key, value=b"")


WATERMARK = b"watermark "


def watermark_record(until: datetime) -> bytes:
    """A tick that moves a partition's stream time to ``until`` (see ``dongbo watermark``)."""
    return WATERMARK + until.isoformat().encode()


def watermark_of(value: bytes | None) -> datetime | None:
    if not value or not value.startswith(WATERMARK):
        return None
    try:
        when = datetime.fromisoformat(value[len(WATERMARK) :].decode())
    except (UnicodeDecodeError, ValueError):
        log.warning("ignored a malformed watermark tick: %r", value[:80])
        return None
    return when if when.tzinfo is not None else None


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
            "due_at": state.tracking_due_at,
            "unit_code": state.unit_code,
            "procedure_code": state.procedure_code,
            "status": state.status.value if state.status else None,
            "at": state.evaluated_at or utcnow(),
            "state_version": state.version,
        },
    )
