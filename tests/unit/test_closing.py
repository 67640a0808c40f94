"""A sink's stop always ends (``sinks.closing.close_within``), whatever the broker does."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from sinks.closing import close_within


class Consumer:
    def __init__(self, blocks_for: float = 0.0, fails: bool = False) -> None:
        self.blocks_for, self.fails = blocks_for, fails
        self.closed = threading.Event()

    def close(self) -> None:
        time.sleep(self.blocks_for)
        if self.fails:
            raise RuntimeError("broker gone")
        self.closed.set()


def test_a_consumer_that_closes_is_closed() -> None:
    consumer = Consumer()
    assert close_within(consumer, "redis sink", seconds=5)
    assert consumer.closed.is_set()


def test_a_close_that_hangs_is_abandoned_in_bounded_time(caplog: pytest.LogCaptureFixture) -> None:
    consumer = Consumer(blocks_for=30)
    began = time.monotonic()
    with caplog.at_level(logging.WARNING):
        assert not close_within(consumer, "report sink", seconds=0.3)
    assert time.monotonic() - began < 5
    assert "report sink: the Kafka consumer did not close within 0 s" in caplog.text
    assert "already committed" in caplog.text


def test_a_close_that_fails_is_reported_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert close_within(Consumer(fails=True), "notifier", seconds=5)
    assert "closing the Kafka consumer failed (broker gone)" in caplog.text
