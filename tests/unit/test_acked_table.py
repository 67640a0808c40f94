"""Why the merge agent waits for its table's changelog itself (``streams.agents.acked_table``).

Faust flushes its send buffer before committing offsets, but the flush gives up once no buffered
record was handed to the producer for 0.1 s: the commit can pass writes still buffered. The first
test pins that behaviour of the Faust we run (if an upgrade fixes it, it fails and says so: the
wait can then be reconsidered, not before). The others check what the agent relies on instead.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.transport.producer import ProducerBuffer

from streams.agents.acked_table import AcknowledgedTable, acknowledged_table


def test_faust_flush_can_return_with_writes_still_buffered() -> None:
    async def run() -> int:
        buffer = ProducerBuffer()
        buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))

        async def slow_send(fut: Any) -> None:  # a busy producer: 0.3 s per record handed over
            await asyncio.sleep(0.3)

        buffer._send_pending = slow_send  # type: ignore[method-assign]
        await buffer.start()
        for _ in range(3):
            buffer.put(object())  # type: ignore[arg-type]
        await buffer.flush()
        left = buffer.size
        buffer.pending = asyncio.Queue()  # let it stop without sending the rest
        await buffer.stop()
        return left

    left = asyncio.run(run())
    assert left > 0, "Faust's flush now waits for its whole buffer: AcknowledgedTable may be unneeded"


@pytest.fixture
def table() -> AcknowledgedTable:
    app = faust.App("acked-table-test", broker="kafka://127.0.0.1:1")  # never started
    return acknowledged_table(app, "dossiers", partitions=4, key_type=bytes, value_type=bytes)


def test_it_is_registered_like_app_table(table: AcknowledgedTable) -> None:
    assert table.app.tables["dossiers"] is table
    assert table.changelog_topic.get_topic_name() == "acked-table-test-dossiers-changelog"


def test_every_changelog_write_is_kept_until_acknowledged(
    table: AcknowledgedTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run() -> tuple[int, int, bool, int]:
        loop = asyncio.get_running_loop()
        sent: list[asyncio.Future[Any]] = []

        def send(*args: Any, **kwargs: Any) -> asyncio.Future[Any]:
            sent.append(loop.create_future())
            return sent[-1]

        monkeypatch.setattr(faust.Table, "send_changelog", lambda self, *a, **k: send(*a, **k))
        for n in range(3):
            table.send_changelog(n % 4, b"k%d" % n, b"v")
        pending = table.unacknowledged
        sent[0].set_result(None)
        after_one = table.unacknowledged
        waiting = asyncio.ensure_future(table.changelog_acknowledged())
        await asyncio.sleep(0.05)
        blocked = not waiting.done()  # two writes not acknowledged yet: the batch must wait
        for fut in sent[1:]:
            fut.set_result(None)
        await waiting
        return pending, after_one, blocked, table.unacknowledged

    pending, after_one, blocked, left = asyncio.run(run())
    assert (pending, after_one, blocked, left) == (3, 2, True, 0)


def test_a_failed_changelog_write_fails_the_wait(
    table: AcknowledgedTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        monkeypatch.setattr(faust.Table, "send_changelog", lambda self, *a, **k: fut)
        table.send_changelog(0, b"k", b"v")
        fut.set_exception(RuntimeError("broker refused the write"))
        await table.changelog_acknowledged()

    with pytest.raises(RuntimeError, match="broker refused"):
        asyncio.run(run())
