"""The normalise agent: every source's raw topic in, canonical events out, bad input to the DLQ.

Stateless, so it scales with partitions like the merge. The output key is the canonical dossier
id, whatever key the source used, so every event of one dossier reaches the same merge worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, cast

from contract.partitioning import partition_of
from contract.sources import SOURCE_SYSTEMS
from schemas import codec
from streams.agents.context import DongboApp, fail_stop
from streams.agents.offsets import in_order, offset_guard, seek_again_if_stuck
from streams.deadletter import DeadLetter
from streams.model import utcnow
from streams.normalise.errors import NormaliseError
from streams.normalise.registry import normalise
from streams.normalise.sources import captured_at, source_of_topic

log = logging.getLogger(__name__)


def install(dapp: DongboApp) -> None:
    app, names, metrics, ws = dapp.app, dapp.names, dapp.metrics, dapp.settings.worker
    n_partitions = dapp.settings.kafka.partitions
    sources = app.topic(
        *[names.source(s) for s in SOURCE_SYSTEMS],
        partitions=dapp.settings.kafka.partitions,
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
    )  # fmt: skip
    events_topic = dapp.topic(names.events)
    dlq_topic = dapp.topic(names.dlq)

    async def one(msg: Any) -> Awaitable[Any]:
        """One raw record: its canonical event, or its dead letter, sent (not yet acknowledged)."""
        now = utcnow()
        try:
            if msg.value is None:
                raise NormaliseError("undecodable", "record has no value (tombstone on a source topic)")
            canonical = normalise(source_of_topic(msg.topic), msg.value, captured_at(msg.headers, now))
        except NormaliseError as exc:
            log.warning("dead letter %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, exc)
            metrics.dead_letters.labels("normalise", exc.reason).inc()
            letter = DeadLetter(exc.reason, exc.detail, "normalise", msg.topic, msg.partition,
                                msg.offset, msg.key, msg.value, now)  # fmt: skip
            return cast(Awaitable[Any], await dlq_topic.send(key=msg.key, value=letter.encode()))
        if partition_of(canonical.dossier_id.encode(), n_partitions) != msg.partition:
            # The stream time relies on a source's records of one dossier partition reaching the
            # same events partition in capture order (docs/guarantees.md#stream-time).
            metrics.misrouted.labels(canonical.source).inc()
        return cast(Awaitable[Any], await events_topic.send(
            key=canonical.dossier_id.encode(),
            value=codec.encode("vn.dongbo.DossierEvent", canonical.to_record()),
            headers={"event_id": canonical.event_id.encode(), "source": canonical.source.encode()},
        ))  # fmt: skip

    offsets = offset_guard(dapp.settings)

    @app.timer(interval=2.0)
    async def normalise_reads_again_if_stuck() -> None:
        await seek_again_if_stuck(app.consumer, offsets)

    @app.agent(sources, name="normalise")
    async def normalise_agent(stream):
        # Batches, like the merge: every output of a batch (events, dead letters) is acknowledged by
        # the broker before the batch is done, so no offset is committed past a record whose
        # output was lost; a failure stops the worker without committing (``fail_stop``).
        async for batch in stream.take_events(ws.batch_size, ws.batch_within):
            try:
                offsets.follow(set(app.consumer.assignment()) if app.consumer else set())
                ordered = []
                for event in batch:
                    msg = event.message
                    # (read again in order when records are missing: a source's order is its time)
                    if await in_order(app.consumer, offsets, msg, metrics):
                        ordered.append(event)
                sent = [await one(event.message) for event in ordered]
                await asyncio.gather(*sent)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - anything: the batch must not be committed
                fail_stop("normalise", batch, exc)
            for event in ordered:
                dapp.done[(event.message.topic, event.message.partition)] = event.message.offset
