"""A Faust table whose changelog writes can be awaited: a batch's offsets are acknowledged only
once the changelog holds the states that record it.

Faust sends a table write to its changelog through a buffer (``send_soon``) and relies on the
commit to flush that buffer before committing offsets. The flush does not guarantee it: Faust's
``ProducerBuffer.flush`` returns as soon as no buffered record was handed to the producer for
0.1 s, whatever is still buffered, and the commit then goes ahead (faust-streaming 0.15.3). On a
busy worker that happens, and a worker killed just after such a commit restarts from a changelog
without states whose events' offsets were committed: those events are gone from their dossiers
for good. The ten-kill chaos test found it (a record missing from one dossier's history, seen as
conflicts the uninterrupted run never had); see docs/guarantees.md#crashes.

So the merge agent waits for every changelog write of a batch to be acknowledged by the broker
before it lets Faust acknowledge the batch's events (``changelog_acknowledged``): the commit can
then only cover offsets whose states the changelog has, whatever Faust's flush does.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.types import FutureMessage


class AcknowledgedTable(faust.Table):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._unacknowledged: list[FutureMessage] = []
        super().__init__(*args, **kwargs)

    def send_changelog(self, *args: Any, **kwargs: Any) -> FutureMessage:
        fut: FutureMessage = super().send_changelog(*args, **kwargs)
        self._unacknowledged.append(fut)
        return fut

    @property
    def unacknowledged(self) -> int:
        """Changelog writes sent and not yet known to be acknowledged."""
        self._unacknowledged = [f for f in self._unacknowledged if not f.done()]
        return len(self._unacknowledged)

    async def changelog_acknowledged(self) -> int:
        """Wait until every changelog write made so far is acknowledged by the broker; raise what a
        failed one raised. Returns how many were waited for."""
        pending, self._unacknowledged = self._unacknowledged, []
        if pending:
            await asyncio.gather(*pending)
        return len(pending)


def acknowledged_table(app: faust.App, name: str, **kwargs: Any) -> AcknowledgedTable:
    """``app.Table(name, ...)`` made an ``AcknowledgedTable`` (registered with the app the same way)."""
    table = AcknowledgedTable(app, name=name, beacon=app.tables.beacon, **kwargs)
    app.tables.add(table)
    return table
