"""The merge agent: canonical events in, one state per dossier (table), unified state out.

The I/O around ``streams.engine.MergeEngine``; decoding failures go to the dead-letter topic.

Time (docs/guarantees.md#stream-time): a partition's time is what every source has delivered on
it (``streams.streamtime``), kept in the table. With ``DONGBO_WORKER_CLOCK=wall`` (live) a timer
also moves a partition to now once every input of it has been read to its end, by a watermark
tick on the ticks topic; with ``stream`` (replays, backlogs) only the records and ``dongbo
watermark`` move it. Either way the engine acts on a moment only once the time has passed it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from faust.streams import _current_event

from contract.partitioning import partition_of
from contract.sources import SOURCE_SYSTEMS
from monitoring.metrics import BoundedLabel
from schemas import codec
from streams.agents.acked_table import acknowledged_table
from streams.agents.context import DongboApp, fail_stop
from streams.agents.offsets import in_order, offset_guard, seek_again_if_stuck
from streams.clock import WallClock
from streams.configured import worker_policy
from streams.deadletter import DeadLetter
from streams.engine import MergeEngine, Output
from streams.model import DossierEvent, utcnow
from streams.state import Conflict, DossierState

log = logging.getLogger(__name__)

TABLE = "dossiers"

# RocksDB memory per partition store. Faust's defaults (3 memtables of 64 MiB, a 2 GiB block
# cache) are sized for one big store; a worker holds one store per partition it owns or stands by
# for (up to twice the partition count), so those defaults let memory grow with the dossiers
# written until several GiB. Small memtables flush to disk sooner; reads of cold dossiers are a
# disk (page cache) read, and hot ones are in the engine's state cache anyway.
ROCKSDB_OPTIONS = {
    "write_buffer_size": 8 * 1024**2,
    "max_write_buffer_number": 2,
    "block_cache_size": 8 * 1024**2,
    "block_cache_compressed_size": 0,
}


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
    table = acknowledged_table(
        app,
        TABLE,
        default=None,
        partitions=n_partitions,
        key_type=bytes,
        value_type=bytes,  # raw bytes: the app's default serializers are "raw"
        help="per-dossier state with its event history (JSON), and each partition's stream time",
        options=ROCKSDB_OPTIONS,
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
        expected_sources=ws.expected_sources,
        cache_mib=ws.state_cache_mib,
        write_through=False,  # stored after what they produced is acknowledged (below)
        catch_up_limit=ws.catch_up_step,  # a leap of time is visited in steps (below)
    )
    assigned: set[object] = set()
    offsets = offset_guard(dapp.settings)
    loaded_settled = False  # the clocks and timers were read with no rebalance or recovery going
    clock = WallClock(ws.clock_start)
    unit_label = BoundedLabel()
    live = ws.clock == "wall"  # latencies against the wall mean something only live
    city = engine.policy.rules.calendars.for_unit(None) if engine.policy.rules is not None else None
    if city is not None:
        metrics.office_open.set_function(lambda: 1.0 if city.is_open(clock.now()) else 0.0)
    # Each source's latest capture merged; a source not heard from yet counts from the start.
    freshest: dict[str, datetime] = dict.fromkeys(ws.expected_sources, clock.now())
    heard_from: set[str] = set()

    def watch(source: str) -> None:
        def silence() -> float:
            return max(0.0, (clock.now() - freshest[source]).total_seconds())

        metrics.source_silence_seconds.labels(source).set_function(silence)

    def heard(source: str, captured: datetime) -> None:
        if source not in heard_from:
            heard_from.add(source)
            if source not in freshest:
                watch(source)
            freshest[source] = captured
        elif captured > freshest[source]:
            freshest[source] = captured

    for source in ws.expected_sources:
        watch(source)
    inputs = [names.source(s) for s in SOURCE_SYSTEMS] + [names.events]

    async def dead_letter(msg: Any, reason: str, detail: str) -> Awaitable[Any]:
        log.warning("dead letter %s[%d]@%d: %s (%s)", msg.topic, msg.partition, msg.offset, reason, detail)
        metrics.dead_letters.labels("merge", reason).inc()
        letter = DeadLetter(reason, detail, "merge", msg.topic, msg.partition, msg.offset, msg.key,
                            msg.value, utcnow())  # fmt: skip
        return cast(Awaitable[Any], await dlq_topic.send(key=msg.key, value=letter.encode()))

    # Each dossier's state to publish at the end of the batch: its latest only. A dossier several
    # of whose moments pass in one batch (a backlog, a watermark leap) is published once, at its
    # last version; consumers keep the highest version anyway (docs/guarantees.md).
    to_publish: dict[bytes, DossierState] = {}

    async def publish(out: Output) -> list[Awaitable[Any]]:
        """Send what one step produced but its state (``to_publish``); the futures resolve when
        the broker has each record."""
        new, sent = out.state, []
        if out.changed:
            metrics.state_changes.inc()
        if out.send_state:
            to_publish[out.key] = new
            if live and new.sources:
                now = clock.now()
                seen = max(s.last_seen_at for s in new.sources.values())
                happened = max(s.last_occurred_at for s in new.sources.values())
                metrics.state_latency_seconds.observe(max(0.0, (now - seen).total_seconds()))
                metrics.event_to_state_seconds.observe(max(0.0, (now - happened).total_seconds()))
        for change, items in (("OPENED", out.opened), ("RESOLVED", out.resolved)):
            for c in items:
                metrics.conflicts.labels(c.kind, change.lower()).inc()
                sent.append(await conflicts_topic.send(key=out.key, value=conflict_record(new, c, change)))
        for kind in out.alerts:
            metrics.alerts.labels(kind, unit_label(new.unit_code)).inc()
            if live and out.at is not None:
                lag = (clock.now() - out.at).total_seconds()
                metrics.timer_lag_seconds.labels(kind).observe(max(0.0, lag))
            sent.append(await deadlines_topic.send(key=out.key, value=alert_record(new, kind)))
        return cast(list[Awaitable[Any]], sent)

    async def step(msg: Any) -> list[Awaitable[Any]]:
        """One message: the outputs it produced, sent (not yet acknowledged)."""
        started = time.perf_counter()
        sent: list[Awaitable[Any]] = []
        if msg.topic == names.ticks:
            mark = watermark_of(msg.value)
            if mark is None:
                log.warning("ignored a tick that is not a watermark: %r", (msg.value or b"")[:80])
                return sent
            for out in engine.advance(msg.partition, mark):
                sent += await publish(out)
            metrics.stream_time.labels(str(msg.partition)).set(mark.timestamp())
            return sent
        decoded = decode_event(msg.key, msg.value)
        if isinstance(decoded, Rejected):
            sent.append(await dead_letter(msg, decoded.reason, decoded.detail))
            return sent
        done = engine.on_event(msg.partition, decoded)
        for out in done.outputs:
            sent += await publish(out)
        if done.rejected is not None:
            sent.append(await dead_letter(msg, done.rejected.reason, done.rejected.detail))
            return sent
        metrics.events.labels(decoded.source, "applied" if done.applied else "duplicate").inc()
        metrics.event_lag_seconds.labels(decoded.source).observe(
            max(0.0, (decoded.ingested_at - decoded.occurred_at).total_seconds())
        )
        metrics.source_last_event.labels(decoded.source).set(clock.now().timestamp())
        heard(decoded.source, decoded.ingested_at)
        now = engine.time(msg.partition)
        if now is not None:
            metrics.stream_time.labels(str(msg.partition)).set(now.timestamp())
        metrics.process_seconds.observe(time.perf_counter() - started)
        return sent

    @app.agent(app.topic(names.events, names.ticks, partitions=n_partitions,
                         key_type=bytes, value_type=bytes), name="merge")  # fmt: skip
    async def merge(stream):
        # Batches, so that one wait for the broker's acknowledgements covers many events. The order
        # is what makes the outputs trustworthy: outputs sent, acknowledged, and only then the
        # states (and stream time) that record them stored. A crash before the store redelivers
        # the batch, which produces the same records again (same ids); a crash after it has lost
        # nothing. Faust acknowledges the batch's offsets once this body is done with it.
        async for batch in stream.take_events(ws.batch_size, ws.batch_within):
            try:
                await merge_batch(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - anything: the batch must not be committed
                fail_stop("merge", batch, exc)

    async def merge_batch(batch: list[Any]) -> None:
        nonlocal loaded_settled
        current = set(app.consumer.assignment()) if app.consumer else set()
        settled = not (app.rebalancing or getattr(app, "in_recovery", False))
        offsets.follow(current)  # a rebalance: a partition may come back moved on by another worker
        if current != assigned or not loaded_settled:
            # A rebalance: clocks and timers are read again from the table (a partition may come
            # back moved on by another worker). Read while a rebalance or a table recovery was
            # still going (a batch taken before it), they are read again at the next batch: a
            # dossier whose state was not recovered yet would otherwise have no timer, and its
            # alerts would wait for its next event.
            assigned.clear()
            assigned.update(current)
            engine.forget()
            loaded_settled = settled
        sent: list[Awaitable[Any]] = []
        last_of: dict[int, Any] = {}
        for event in batch:
            msg = event.message
            if not await in_order(app.consumer, offsets, msg, metrics):
                continue  # merged past a missing record, the outputs would differ: read again
            last_of[msg.partition] = event
            sent += await step(msg)
        await store(sent, last_of, batch)
        # A leap of time (the first tick after a backlog, a replay's closing watermark) can pass
        # the moments of every open dossier of a partition: the batch above visited a step's
        # worth of them (``catch_up_limit``, besides its events' own dossiers'); the rest in
        # steps of the same size, each stored like a batch before the next, so that memory stays
        # bounded and each wait for the broker covers a step. A crash between steps loses
        # nothing: the stored states carry their next moments, and the clock that passed them is
        # stored with them. Only partitions this batch read: a table write goes to the changelog
        # partition of the event it is made for (``acting_for``).
        behind = [p for p in sorted(last_of) if engine.behind(p)]
        while behind and not app.rebalancing:
            sent = []
            for p in behind:
                for out in engine.catch_up(p):
                    sent += await publish(out)
            await store(sent, last_of, batch)
            metrics.catch_up_steps.inc()
            behind = [p for p in behind if engine.behind(p)]
        for event in batch:
            if not event.message.acked:  # not the records left for their second copy (``rewind``)
                dapp.done[(event.message.topic, event.message.partition)] = event.message.offset

    async def store(sent: list[Awaitable[Any]], last_of: dict[int, Any], batch: list[Any]) -> None:
        """Publish each dossier's latest state, wait until every output is acknowledged, then store
        the states and clocks that record them and wait for the changelog to have them."""
        for key, state in to_publish.items():
            value = codec.encode("vn.dongbo.DossierState", state.to_record())
            sent.append(await state_topic.send(key=key, value=value))
        to_publish.clear()
        if sent:
            await asyncio.gather(*sent)
        for partition, key, value in engine.take_writes():
            with acting_for(last_of.get(partition, batch[-1])):
                table[key] = value  # assigned, or it never reaches the changelog
        # Faust's commit does not reliably wait for these (``streams.agents.acked_table``): the
        # batch's events are acknowledged only once the changelog has the states recording them.
        await table.changelog_acknowledged()

    @app.timer(interval=2.0)
    async def merge_reads_again_if_stuck() -> None:
        await seek_again_if_stuck(app.consumer, offsets)

    @app.timer(interval=ws.tick_interval)
    async def tick() -> None:
        """Wall clock: a partition whose every input has been read up to now moves to now (less a
        margin for records in flight); one still catching up waits for its sources' records."""
        if app.consumer is None:
            return
        consumer = app.consumer
        mine = set(consumer.assignment())
        for tp in mine:
            if tp.topic in inputs:
                behind = backlog(consumer, tp, dapp.done)
                if behind is not None:
                    metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(behind)
        if ws.clock != "wall":
            return
        now = clock.now() - timedelta(seconds=ws.live_margin)
        for p in sorted({tp.partition for tp in mine if tp.topic == names.events}):
            if caught_up(consumer, mine, inputs, p, dapp.done):
                await ticks_topic.send(value=watermark_record(now), partition=p)


def caught_up(consumer: Any, mine: set[Any], inputs: list[str], partition: int,
              done: dict[tuple[str, int], int]) -> bool:  # fmt: skip
    """Every input of ``partition`` (each source's raw topic, the events) is owned here and read to
    its end: nothing captured before now is still waiting in Kafka for this partition."""
    tps = [tp for tp in mine if tp.partition == partition and tp.topic in inputs]
    if len(tps) < len(inputs):
        return False  # some input is read by another worker: its progress is not known here
    return all(backlog(consumer, tp, done) == 0 for tp in tps)


def backlog(consumer: Any, tp: Any, done: dict[tuple[str, int], int]) -> int | None:
    """Records of ``tp`` not processed yet (None: its end is not known yet)."""
    end = consumer.highwater(tp)
    if end is None:
        return None
    last = done.get((tp.topic, tp.partition))
    # Nothing finished since the assignment: where the group had committed (Faust's record of it;
    # the next offset to read).
    position = last + 1 if last is not None else (consumer._committed_offset.get(tp) or 0)
    return max(0, end - position)


@contextmanager
def acting_for(event: Any) -> Iterator[None]:
    """Faust files a table write under the partition of the event being processed; a batch's
    writes are made after the batch, so each is made as the last event of its partition."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


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


def record_id(*parts: object) -> str:
    """A deterministic id: the same conflict change or alert, published again after a crash, has
    the same id, so a consumer keeps one of each."""
    text = "\x1f".join(
        "" if p is None else p.isoformat() if isinstance(p, datetime) else str(p) for p in parts
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def conflict_record(state: DossierState, c: Conflict, change: str) -> bytes:
    return codec.encode(
        "vn.dongbo.ConflictEvent",
        {
            "id": record_id(state.dossier_id, c.key, c.since, change),
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
            "id": record_id(state.dossier_id, kind),  # once per dossier and kind
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
