"""Closing a sink's Kafka consumer within a bounded time, so that a stop always ends.

``Consumer.close()`` leaves the group and waits for the broker; it has no timeout of its own and
can wait far longer than a supervisor's stop grace period (a sink's SIGTERM once went unanswered
for a minute after a broker restart, in the chaos suite). A sink commits its offsets after every
batch it wrote, so nothing is left to do at close that matters for correctness: if the broker
does not let the consumer go in time, the process stops anyway and the group hands the
partitions on after its session timeout.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger(__name__)

CLOSE_WITHIN = 15.0  # seconds; well inside Docker's and systemd's stop grace periods


class Closable(Protocol):
    def close(self) -> None: ...


def close_within(consumer: Closable, what: str, seconds: float = CLOSE_WITHIN) -> bool:
    """Close ``consumer``; True when it closed within ``seconds``. Otherwise its close goes on in a
    daemon thread (abandoned when the process exits) and a warning says why stopping is safe."""
    closed = threading.Event()
    failure: list[BaseException] = []

    def close() -> None:
        try:
            consumer.close()
        except Exception as exc:  # noqa: BLE001 - reported below, from the stopping thread
            failure.append(exc)
        finally:
            closed.set()

    threading.Thread(target=close, name=f"{what}-consumer-close", daemon=True).start()
    if not closed.wait(seconds):
        log.warning("%s: the Kafka consumer did not close within %.0f s (is the broker reachable?); "
                    "stopping anyway: the offsets of every batch written are already committed, and "
                    "the group hands this consumer's partitions on after its session timeout",
                    what, seconds)  # fmt: skip
        return False
    if failure:
        log.warning("%s: closing the Kafka consumer failed (%s); its offsets were already committed",
                    what, failure[0])  # fmt: skip
    return True
