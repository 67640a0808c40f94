"""Every input record reaches the agents, in offset order: checked, not assumed.

The ten-kill chaos test found Faust (faust-streaming 0.15.3) delivering a partition's records to
an agent with one missing, mostly just after a start: the first records fetched reach the agent
while recovery seeks the partitions to their committed offsets, and the record after them can be
lost in between (offset 287 of ``dossier.events`` skipped, 288 onwards merged). Faust's fetch loop
files offsets it did not deliver as a "gap" (meant for offsets that hold no record, in compacted or
transactional topics) and counts them as processed, so the next commit moved past a record no
agent saw: lost for good, while the merge evaluated its dossier without it.

Two guards:
- ``refuse_gap_commits``: a gap is never counted as processed. A record that was delivered is
  acknowledged by its agent anyway; one that was not holds the commit until it is. dongbo's
  input topics are neither compacted nor transactional: every offset in them holds a record.
- ``OffsetGuard`` and ``rewind``: each agent checks each partition's offsets. A record arriving
  with earlier ones missing is not processed and not acknowledged; the partition is sought back
  to the first missing offset and everything after it comes again, in order. Merged in order,
  the outputs are what an uninterrupted run gives (``dongbo_consumer_skips_total`` counts it).
"""

from __future__ import annotations

import logging
from typing import Any

from faust.transport.consumer import Consumer

log = logging.getLogger(__name__)


class OffsetGuard:
    """The next offset each (topic, partition) should deliver to one agent, and the partitions
    being read again after a skip."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, int], int] = {}
        self._assignment: set[Any] = set()
        self._rewound: set[tuple[str, int]] = set()  # sought back, waiting for the missing record

    def reset(self) -> None:
        """After a rebalance: a partition may come back moved on by another worker."""
        self._next.clear()
        self._rewound.clear()

    def follow(self, assignment: set[Any]) -> None:
        """Forget the expectations when the consumer's assignment changed (a rebalance)."""
        if assignment != self._assignment:
            self._assignment = set(assignment)
            self.reset()

    def skipped(self, topic: str, partition: int, offset: int) -> tuple[int, int] | None:
        """The first and last offsets skipped before this record (None: nothing skipped). A record
        at or before the expected offset is a redelivery (Faust seeks back after a rebalance or
        its own recovery, or ``rewind``): it resets the expectation."""
        key = (topic, partition)
        expected = self._next.get(key)
        if expected is None:
            log.info("reading %s[%d] from offset %d", topic, partition, offset)
        elif offset > expected:
            return expected, offset - 1
        elif offset < expected - 1:
            log.info("reading %s[%d] again from offset %d (was at %d)", topic, partition, offset,
                     expected - 1)  # fmt: skip
        self._next[key] = offset + 1
        self._rewound.discard(key)
        return None

    def must_rewind(self, topic: str, partition: int) -> bool:
        """True the first time a skip is seen on the partition since it was last in order: seek
        back once, then wait for the missing record."""
        key = (topic, partition)
        if key in self._rewound:
            return False
        self._rewound.add(key)
        return True


async def rewind(consumer: Any, guard: OffsetGuard, msg: Any, skipped: tuple[int, int], metrics: Any) -> None:
    """A record arrived with earlier ones of its partition missing: it is not processed (nor
    acknowledged, so no commit can pass it), and the partition is read again from the first
    missing offset. Everything after it comes again, in order; merged in order, the outputs are
    what an uninterrupted run gives."""
    first, last = skipped
    if guard.must_rewind(msg.topic, msg.partition):
        log.warning("offsets %d..%d of %s[%d] never reached the agent (skipped by the consumer); "
                    "reading the partition again from %d", first, last, msg.topic, msg.partition,
                    first)  # fmt: skip
        metrics.consumer_skips.labels(msg.topic).inc()
        await consumer.seek(msg.tp, first)
    # Not acknowledged: Faust acknowledges a batch's records after the agent's body, and an
    # acknowledged offset past the missing ones would let a later commit pass their second copies
    # before they are merged. Marked as acknowledged without counting, like a record never read.
    msg.acked = True
    consumer._unacked_messages.discard(msg)


def refuse_gap_commits() -> None:
    """Faust's consumer never counts an offset it did not deliver as processed (see above).
    Patched on Faust's base consumer class: the worker process runs one Faust app."""
    if getattr(Consumer._add_gap, "_dongbo", False):
        return

    async def _add_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
        # Faust passes the current record's offset as ``offset_to``; it is delivered.
        if offset_from < offset_to:
            # At every start (the seek to the committed offsets moves the read position back after
            # the first records were delivered) and on a real skip (``rewind`` then re-reads it).
            log.info(
                "Kafka consumer: offsets %d..%d of %s[%d] not counted as processed unless an agent "
                "processed them", offset_from, offset_to - 1, tp.topic, tp.partition,
            )  # fmt: skip

    _add_gap._dongbo = True  # type: ignore[attr-defined]
    Consumer._add_gap = _add_gap  # type: ignore[method-assign]
