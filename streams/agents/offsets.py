"""Every input record reaches the agents, in offset order: checked, not assumed.

The ten-kill chaos test found Faust (faust-streaming 0.15.3) delivering a partition's records to
an agent with one missing, mostly just after a start: the first records fetched reach the agent
while recovery seeks the partitions to their committed offsets, and the record after them can be
lost in between (offset 287 of ``dossier.events`` skipped, 288 onwards merged). Faust's fetch loop
files offsets it did not deliver as a "gap" (meant for offsets that hold no record, in compacted or
transactional topics) and counts them as processed, so the next commit moved past a record no
agent saw: lost for good, while the merge evaluated its dossier without it.

Two guards:
- ``refuse_gap_commits``: Faust never counts a gap as processed by itself. A record that was
  delivered is acknowledged by its agent anyway; one that was not holds the commit until it is.
- ``OffsetGuard`` and ``in_order``: each agent checks each partition's offsets. A record arriving
  with earlier ones missing is not processed and not acknowledged; the partition is sought back
  to the first missing offset and everything after it comes again, in order. Merged in order,
  the outputs are what an uninterrupted run gives (``dongbo_consumer_skips_total`` counts it).
  Offsets that really hold no record (commit markers, when a source system writes its topic with
  a transactional producer such as a Kafka Connect exactly-once source) look like a skip too: the
  agent first asks the broker (``GapProbe``: a record at the first missing offset is a real skip)
  and counts markers as processed at once (Faust's own gap filing), so the commit moves on;
  without an answer, the same jump on two re-reads decides.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import KafkaError, TopicPartition
from faust.transport.consumer import Consumer

from contract.settings import Settings

log = logging.getLogger(__name__)


# (topic, partition, first, last) -> whether the broker holds a record at those offsets (None: no answer)
Probe = Callable[[str, int, int, int], Awaitable[bool | None]]

GENUINE_AFTER = 2  # re-reads showing the same jump before its offsets are taken for holding no record
HELD_BEFORE_SEEKING_AGAIN = 20_000  # more than Faust can have fetched before a seek (its buffers)


class OffsetGuard:
    """The next offset each (topic, partition) should deliver to one agent, and the partitions
    being read again after a skip."""

    def __init__(self, probe: Probe | None = None) -> None:
        self.probe = probe
        self._next: dict[tuple[str, int], int] = {}
        self._assignment: set[Any] = set()
        # read again after a skip: the record that revealed it, the re-reads that showed the same
        # record first again, and the records held back since the last seek
        self._rewound: dict[tuple[str, int], list[int]] = {}
        self._sought: dict[tuple[str, int], tuple[Any, int, float]] = {}  # the last seek back, and when

    def reset(self) -> None:
        """After a rebalance: a partition may come back moved on by another worker."""
        self._next.clear()
        self._rewound.clear()
        self._sought.clear()

    def follow(self, assignment: set[Any]) -> None:
        """Forget the expectations when the consumer's assignment changed (a rebalance)."""
        if assignment != self._assignment:
            self._assignment = set(assignment)
            self.reset()

    def skipped(
        self, topic: str, partition: int, offset: int, committed: int | None = None
    ) -> tuple[int, int] | None:
        """The first and last offsets skipped before this record (None: nothing skipped). A record
        at or before the expected offset is a redelivery (Faust seeks back after a rebalance or
        its own recovery, or ``in_order``): it resets the expectation.

        The first record of a partition (after a start or a rebalance) is expected at
        ``committed``, the group's committed offset (the next to read), when it is known: the
        record Faust skips at a start is often that very first one, and Faust's own commit lets
        one missing record at the head through (``Consumer._new_offset``: ``min(acked) -
        committed > 1``), so it would be lost for good."""
        key = (topic, partition)
        expected = self._next.get(key)
        if expected is None and committed is not None and offset > committed:
            return committed, offset - 1
        if expected is None:
            log.info("reading %s[%d] from offset %d", topic, partition, offset)
        elif offset > expected:
            return expected, offset - 1
        elif offset < expected - 1:
            log.info("reading %s[%d] again from offset %d (was at %d)", topic, partition, offset,
                     expected - 1)  # fmt: skip
        self.accept(topic, partition, offset)
        return None

    def accept(self, topic: str, partition: int, offset: int) -> None:
        self._next[(topic, partition)] = offset + 1
        self._rewound.pop((topic, partition), None)

    def sought(self, tp: Any, first: int) -> None:
        """A seek back to ``first`` was made for ``tp``: remembered, to seek again if it brings
        nothing (``seek_again_if_stuck``)."""
        self._sought[(tp.topic, tp.partition)] = (tp, first, time.monotonic())

    def stuck(self, after: float) -> list[tuple[Any, int]]:
        """Partitions sought back ``after`` seconds ago or more whose missing record has not come."""
        now = time.monotonic()
        out = []
        for key, (tp, first, when) in list(self._sought.items()):
            if key not in self._rewound:
                del self._sought[key]
            elif now - when >= after:
                out.append((tp, first))
        return out

    def decide(self, topic: str, partition: int, offset: int) -> str:
        """For a record revealing a skip: ``"new"`` (a skip not seen before), ``"seek"`` (the same
        record first again after a re-read, or too many records held since the last seek),
        ``"hold"`` (a record fetched before the seek), or ``"genuine"`` (the same jump after
        ``GENUINE_AFTER`` re-reads)."""
        key = (topic, partition)
        state = self._rewound.get(key)
        if state is None or offset < state[0]:  # new, or the re-read revealed an earlier skip
            self._rewound[key] = [offset, 0, 0]
            return "new"
        if offset == state[0]:
            state[1] += 1
            state[2] = 0
            return "genuine" if state[1] >= GENUINE_AFTER else "seek"
        state[2] += 1
        if state[2] > HELD_BEFORE_SEEKING_AGAIN:
            state[2] = 0
            return "seek"
        return "hold"


class GapProbe:
    """Asks the broker directly (a consumer of its own, no group membership, no commits) whether a
    partition holds a record between two offsets: one fetch, without disturbing Faust's reading."""

    def __init__(self, client_config: dict[str, Any], group: str, timeout: float = 5.0) -> None:
        self._config = {**client_config, "group.id": group, "enable.auto.commit": False,
                        "enable.partition.eof": True, "fetch.wait.max.ms": 10}  # fmt: skip
        self._consumer: KafkaConsumer | None = None
        self.timeout = timeout

    def _ask(self, topic: str, partition: int, first: int, last: int) -> bool | None:
        if self._consumer is None:
            self._consumer = KafkaConsumer(self._config)
        consumer = self._consumer
        consumer.assign([TopicPartition(topic, partition, first)])
        try:
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                msg = consumer.poll(0.2)
                if msg is None:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        return False
                    continue
                return (msg.offset() or 0) <= last
            return None
        finally:
            consumer.unassign()

    async def holds_record(self, topic: str, partition: int, first: int, last: int) -> bool | None:
        try:
            return await asyncio.to_thread(self._ask, topic, partition, first, last)
        except Exception as exc:  # noqa: BLE001 - no answer: the re-reads decide instead
            log.warning("could not ask the broker about offsets %d..%d of %s[%d]: %s", first, last,
                        topic, partition, exc)  # fmt: skip
            return None


def offset_guard(settings: Settings) -> OffsetGuard:
    """An agent's guard, asking the broker about skips with the worker's credentials."""
    probe = GapProbe(settings.kafka.client_config(), f"{settings.worker.app_id}-gap-probe")
    return OffsetGuard(probe.holds_record)


async def in_order(consumer: Any, guard: OffsetGuard, msg: Any, metrics: Any) -> bool:
    """True: process this record (the next of its partition). False: records before it are
    missing; it is held back (not processed, not acknowledged, so no commit passes it) and the
    partition is read again from the first missing offset, so that everything after comes again,
    in order: merged in order, the outputs are what an uninterrupted run gives.

    Offsets that hold no record (a transactional producer's commit markers on a source topic, a
    compacted topic) look like a skip too: when the partition, read again from the first missing
    offset ``GENUINE_AFTER`` times, still starts at the same record, the missing offsets are taken
    for such and counted as processed."""
    committed = getattr(consumer, "_committed_offset", {}).get(msg.tp)  # Faust's, the next to read
    skipped = guard.skipped(msg.topic, msg.partition, msg.offset, committed)
    if skipped is None:
        return True
    first, last = skipped
    decision = guard.decide(msg.topic, msg.partition, msg.offset)
    if decision == "new":
        # The broker says at once whether the missing offsets hold a record; without an answer,
        # the re-reads decide.
        holds = await guard.probe(msg.topic, msg.partition, first, last) if guard.probe else None
        decision = "genuine" if holds is False else "seek"
    if decision == "genuine":
        log.info("offsets %d..%d of %s[%d] hold no record (transaction markers or compaction); "
                 "counted as processed", first, last, msg.topic, msg.partition)  # fmt: skip
        await _faust_add_gap(consumer, msg.tp, first, last)
        guard.accept(msg.topic, msg.partition, msg.offset)
        return True
    if decision == "seek":
        log.warning("offsets %d..%d of %s[%d] never reached the agent (skipped by the consumer); "
                    "reading the partition again from %d", first, last, msg.topic, msg.partition,
                    first)  # fmt: skip
        metrics.consumer_skips.labels(msg.topic).inc()
        await consumer.seek(msg.tp, first)
        guard.sought(msg.tp, first)
    # Marked as acknowledged without being counted, like a record never read: Faust acknowledges a
    # batch's records after the agent's body, and an offset acknowledged past the missing ones
    # would let a commit pass the second copies of the records after them before they are merged.
    msg.acked = True
    consumer._unacked_messages.discard(msg)
    return False


_faust_add_gap = Consumer._add_gap  # Faust's own: files offsets as processed (``in_order`` uses it)


STUCK_AFTER = 5.0  # seconds: a seek back that brought nothing by then is made again


async def seek_again_if_stuck(consumer: Any, guard: OffsetGuard) -> None:
    """Called on a timer: a seek back can bring nothing (seen once in CI: the partition then sat
    with its records held back until the end of the run); it is made again."""
    if consumer is None:
        return
    for tp, first in guard.stuck(STUCK_AFTER):
        log.warning("%s[%d]: reading again from %d brought nothing in %.0f s; seeking again",
                    tp.topic, tp.partition, first, STUCK_AFTER)  # fmt: skip
        await consumer.seek(tp, first)
        guard.sought(tp, first)


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
