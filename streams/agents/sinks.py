"""One agent per sink: ``dossier.state`` in, batches of decoded states handed to a plain sink object.

A sink knows nothing of Faust (``sinks/`` imports no part of the stream app): it is built by the
caller (the CLI) and handed to ``streams.app.build_app``. Each sink gets its own agent, so a slow
sink does not hold up the others; writes are batched (one call per up to ``batch`` states or
``within`` seconds), and a sink must be idempotent (states carry a version; an older or repeated
one is ignored), because delivery is at least once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from schemas import codec
from streams.agents.context import DongboApp

log = logging.getLogger(__name__)


class StateSink(Protocol):
    name: str  # bounded label of its metrics, and part of its agent's name

    async def setup(self) -> None:
        """Connect; called once before the first batch."""

    async def write(self, states: Sequence[dict[str, Any]]) -> int:
        """Write a batch of ``DossierState`` records; return how many were newer than stored."""


def install_state_sink(dapp: DongboApp, sink: StateSink, batch: int = 500, within: float = 0.2) -> None:
    metrics = dapp.metrics

    @dapp.app.agent(dapp.topic(dapp.names.state), name=f"{sink.name}-sink")
    async def state_sink(stream):
        await sink.setup()
        async for values in stream.take(batch, within=within):
            states = []
            for value in values:
                try:
                    states.append(codec.decode("vn.dongbo.DossierState", value))
                except codec.DecodeError as exc:
                    # Only dongbo writes this topic; a bad record is a bug, but it must not stop
                    # the sink: count it and go on (the merge re-publishes on the next change).
                    log.error("undecodable state record skipped by the %s sink: %s", sink.name, exc)
                    metrics.dead_letters.labels("sink", exc.reason).inc()
            written = await sink.write(states)
            metrics.sink_writes.labels(sink.name, "written").inc(written)
            metrics.sink_writes.labels(sink.name, "stale").inc(len(states) - written)
