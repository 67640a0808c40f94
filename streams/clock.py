"""The wall clock, injectable: tests (and rehearsals) run the live worker at a chosen instant.

With ``start`` set, time begins at ``start`` when the worker starts and runs at real speed; every
live decision (tolerances, deadline alerts) is taken against it, so a test can put the worker a
few seconds before a due time, whatever the real time of day or day of week.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class WallClock:
    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("the clock's start must carry a UTC offset")
        self._start = start
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        if self._start is None:
            return datetime.now(UTC)
        return self._start + timedelta(seconds=time.monotonic() - self._t0)
