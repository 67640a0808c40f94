"""The merge agent: canonical events in, one state per dossier (table), unified state out.

A thin loop around ``streams.merge.apply_event``; decoding failures go to the dead-letter topic.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from schemas import codec
from streams.deadletter import DeadLetter
from streams.merge import apply_event
from streams.model import DossierEvent, utcnow
from streams.state import DossierState

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


def install(dapp: DongboApp) -> None:
    app, names, metrics = dapp.app, dapp.names, dapp.metrics
    table = app.Table(
        TABLE,
        default=None,
        partitions=dapp.settings.kafka.partitions,
        key_type=bytes,
        value_type=bytes,  # raw bytes: the app's default serializers are "raw"
        help="per-dossier state with its event history (JSON)",
    )
    dapp.tables[TABLE] = table
    state_topic = dapp.topic(names.state)
    dlq_topic = dapp.topic(names.dlq)

    async def dead_letter(msg_topic: str, partition: int, offset: int, key: bytes | None,
                          value: bytes | None, reason: str, detail: str) -> None:  # fmt: skip
        log.warning("dead letter %s[%d]@%d: %s (%s)", msg_topic, partition, offset, reason, detail)
        metrics.dead_letters.labels("merge", reason).inc()
        letter = DeadLetter(reason, detail, "merge", msg_topic, partition, offset, key, value, utcnow())
        await dlq_topic.send(key=key, value=letter.encode())

    @app.agent(dapp.topic(names.events), name="merge")
    async def merge(stream):
        async for event in stream.events():
            started = time.perf_counter()
            msg = event.message
            decoded = decode_event(msg.key, msg.value)
            if isinstance(decoded, Rejected):
                await dead_letter(msg.topic, msg.partition, msg.offset, msg.key, msg.value,
                                  decoded.reason, decoded.detail)  # fmt: skip
                continue
            key = decoded.dossier_id.encode()
            raw = table.get(key)
            state = DossierState.loads(raw) if raw is not None else None
            now = utcnow()
            result = apply_event(state, decoded, now)
            metrics.events.labels(decoded.source, "applied" if result.applied else "duplicate").inc()
            metrics.event_lag_seconds.labels(decoded.source).observe(
                max(0.0, (decoded.ingested_at - decoded.occurred_at).total_seconds())
            )
            metrics.source_last_event.labels(decoded.source).set(now.timestamp())
            if result.applied:
                table[key] = result.state.dumps()  # assigned back, or it never reaches the changelog
            if result.changed:
                metrics.state_changes.inc()
            if result.changed or not result.applied:
                # A redelivered event (after a crash) re-publishes the current state: the first
                # publication may have been lost with the crash. Sinks keep the highest version.
                await state_topic.send(
                    key=key, value=codec.encode("vn.dongbo.DossierState", result.state.to_record())
                )
            metrics.process_seconds.observe(time.perf_counter() - started)
