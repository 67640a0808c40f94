"""The normalise agent: every source's raw topic in, canonical events out, bad input to the DLQ.

Stateless, so it scales with partitions like the merge. The output key is the canonical dossier
id, whatever key the source used, so every event of one dossier reaches the same merge worker.
"""

from __future__ import annotations

import logging

from contract.partitioning import partition_of
from contract.sources import SOURCE_SYSTEMS
from schemas import codec
from streams.agents.context import DongboApp
from streams.deadletter import DeadLetter
from streams.model import utcnow
from streams.normalise.errors import NormaliseError
from streams.normalise.registry import normalise
from streams.normalise.sources import captured_at, source_of_topic

log = logging.getLogger(__name__)


def install(dapp: DongboApp) -> None:
    app, names, metrics = dapp.app, dapp.names, dapp.metrics
    n_partitions = dapp.settings.kafka.partitions
    sources = app.topic(
        *[names.source(s) for s in SOURCE_SYSTEMS],
        partitions=dapp.settings.kafka.partitions,
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
    )  # fmt: skip
    events_topic = dapp.topic(names.events)
    dlq_topic = dapp.topic(names.dlq)

    @app.agent(sources, name="normalise")
    async def normalise_agent(stream):
        async for event in stream.events():
            msg = event.message
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
                await dlq_topic.send(key=msg.key, value=letter.encode())
                dapp.done[(msg.topic, msg.partition)] = msg.offset
                continue
            if partition_of(canonical.dossier_id.encode(), n_partitions) != msg.partition:
                # The stream time relies on a source's records of one dossier partition reaching
                # the same events partition in capture order (docs/guarantees.md#stream-time).
                metrics.misrouted.labels(canonical.source).inc()
            await events_topic.send(
                key=canonical.dossier_id.encode(),
                value=codec.encode("vn.dongbo.DossierEvent", canonical.to_record()),
                headers={"event_id": canonical.event_id.encode(), "source": canonical.source.encode()},
            )
            dapp.done[(msg.topic, msg.partition)] = msg.offset
