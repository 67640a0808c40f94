"""No input record is skipped unseen (``streams.agents.offsets``)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest
from faust.transport.consumer import Consumer
from hypothesis import given
from hypothesis import strategies as st

from streams.agents.offsets import OffsetGuard, refuse_gap_commits, rewind


def test_consecutive_offsets_and_redeliveries_pass() -> None:
    guard = OffsetGuard()
    for offset in (5, 6, 7, 3, 4, 5, 6, 7, 8):  # a seek back to the commit re-reads 3..7
        assert guard.skipped("dossier.events", 0, offset) is None


def test_a_skipped_offset_is_named() -> None:
    guard = OffsetGuard()
    for offset in (285, 286):
        assert guard.skipped("dossier.events", 0, offset) is None
    assert guard.skipped("dossier.events", 0, 288) == (287, 287)
    assert guard.skipped("dossier.events", 1, 900) is None  # another partition: its own count


def test_a_rebalance_forgets_the_expectations() -> None:
    guard = OffsetGuard()
    guard.skipped("dossier.events", 0, 10)
    guard.reset()  # the partition came back after another worker read it further
    assert guard.skipped("dossier.events", 0, 500) is None


@given(st.lists(st.integers(0, 50), min_size=1, max_size=60))
def test_any_delivery_without_a_forward_jump_passes_and_any_jump_is_caught(offsets: list[int]) -> None:
    guard = OffsetGuard()
    expected = None
    for offset in offsets:
        got = guard.skipped("t", 0, offset)
        if expected is not None and offset > expected:
            assert got == (expected, offset - 1)
            return
        assert got is None
        expected = offset + 1


def test_faust_never_counts_a_skipped_offset_as_processed(caplog: pytest.LogCaptureFixture) -> None:
    refuse_gap_commits()
    refuse_gap_commits()  # idempotent
    consumer = SimpleNamespace(_gap={}, _committed_offset={})
    tp = SimpleNamespace(topic="dossier.events", partition=0)
    with caplog.at_level(logging.INFO):
        asyncio.run(Consumer._add_gap(consumer, tp, 287, 288))
    assert consumer._gap == {}  # nothing filed as processed
    assert "offsets 287..287 of dossier.events[0] not counted as processed" in caplog.text


def test_following_the_assignment_forgets_only_when_it_changes() -> None:
    guard = OffsetGuard()
    guard.follow({"events-0"})
    guard.skipped("t", 0, 10)
    guard.follow({"events-0"})  # same assignment: 12 after 10 is a skip
    assert guard.skipped("t", 0, 12) == (11, 11)
    guard.follow({"events-0", "events-1"})  # a rebalance
    assert guard.skipped("t", 0, 40) is None


class FakeConsumer:
    def __init__(self) -> None:
        self.seeks: list[tuple[object, int]] = []
        self._unacked_messages: set[object] = set()

    async def seek(self, tp: object, offset: int) -> None:
        self.seeks.append((tp, offset))


class Msg:
    def __init__(self, offset: int, partition: int = 0) -> None:
        self.topic, self.partition, self.offset = "dossier.events", partition, offset
        self.tp = ("dossier.events", partition)
        self.acked = False


def test_a_skip_reads_the_partition_again_once_and_holds_back_what_came_early() -> None:
    consumer, guard = FakeConsumer(), OffsetGuard()
    counted: list[str] = []
    fake_metrics = SimpleNamespace(
        consumer_skips=SimpleNamespace(labels=lambda t: SimpleNamespace(inc=lambda: counted.append(t)))
    )

    async def deliver(offsets: list[int]) -> list[int]:
        merged = []
        for offset in offsets:
            msg = Msg(offset)
            consumer._unacked_messages.add(msg)
            skipped = guard.skipped(msg.topic, msg.partition, offset)
            if skipped is None:
                merged.append(offset)
            else:
                await rewind(consumer, guard, msg, skipped, fake_metrics)
                assert msg.acked and msg not in consumer._unacked_messages  # never counted as done
        return merged

    # 286, then 288-290 before 287: one seek back to 287; 288-290 wait for their second copies.
    merged = asyncio.run(deliver([285, 286, 288, 289, 290, 287, 288, 289, 290, 291]))
    assert merged == [285, 286, 287, 288, 289, 290, 291]
    assert consumer.seeks == [(("dossier.events", 0), 287)]
    assert counted == ["dossier.events"]
    asyncio.run(deliver([295]))  # a new skip after being in order again: a new seek
    assert consumer.seeks[-1] == (("dossier.events", 0), 292)
