"""No fetched record is dropped without being read again (``streams.agents.fetched``)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from hypothesis import given
from hypothesis import strategies as st

from streams.agents.fetched import PAST_ANY, keep_fetched_records, keep_or_read_again, read_position

CHANGELOG = [TP("app-dossiers-changelog", p) for p in range(4)]


def batch(first: int, n: int) -> list[Any]:
    return [SimpleNamespace(offset=o) for o in range(first, first + n)]


def past(tp: Any) -> int:
    return PAST_ANY  # read past every fetched record, as after a fetch


class Seeks:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, int]] = []

    async def __call__(self, tp: Any, offset: int) -> None:
        self.calls.append((tp, offset))


def test_a_paused_partitions_records_are_read_again_from_the_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seeks = Seeks()
    records = {CHANGELOG[0]: batch(0, 5), CHANGELOG[2]: batch(0, 251), CHANGELOG[3]: batch(7, 3)}
    with caplog.at_level(logging.INFO):
        kept = asyncio.run(keep_or_read_again(records, {CHANGELOG[0]}, set(), set(CHANGELOG), past, seeks))
    assert kept == {CHANGELOG[0]: records[CHANGELOG[0]]}
    assert seeks.calls == [(CHANGELOG[2], 0), (CHANGELOG[3], 7)]
    assert "251 records of app-dossiers-changelog[2] fetched while the partition was paused" in caplog.text


def test_buffered_partitions_are_handed_on_and_revoked_ones_left_alone() -> None:
    seeks = Seeks()
    records = {CHANGELOG[1]: batch(3, 2), CHANGELOG[2]: batch(9, 1)}
    kept = asyncio.run(keep_or_read_again(records, set(), {CHANGELOG[1]}, {CHANGELOG[1]}, past, seeks))
    assert kept == {CHANGELOG[1]: records[CHANGELOG[1]]}
    assert seeks.calls == []  # partition 2 is another worker's now: it reads it itself


def test_a_position_set_since_the_fetch_at_or_before_the_first_record_stands() -> None:
    """Faust's recovery or a rebalance may have sought the partition after the fetch (to its
    committed offset, a standby's last offset) or be resetting it: moving it forward would skip."""
    seeks = Seeks()
    records = {CHANGELOG[0]: batch(100, 5), CHANGELOG[1]: batch(100, 5), CHANGELOG[2]: batch(100, 5)}
    positions = {CHANGELOG[0]: 40, CHANGELOG[1]: 100, CHANGELOG[2]: None}
    asyncio.run(keep_or_read_again(records, set(), set(), set(CHANGELOG), positions.__getitem__, seeks))
    assert seeks.calls == []


class _State:
    def __init__(self, position: int | None) -> None:
        self.position, self.has_valid_position = position, position is not None


def test_the_position_is_read_from_aiokafkas_subscription_state() -> None:
    from aiokafka.errors import IllegalStateError

    states = {CHANGELOG[0]: _State(251), CHANGELOG[1]: _State(None)}

    def assigned_state(tp: Any) -> _State:
        if tp not in states:
            raise IllegalStateError(f"No current assignment for partition {tp}")
        return states[tp]

    kafka = SimpleNamespace(_subscription=SimpleNamespace(_assigned_state=assigned_state))
    consumer = SimpleNamespace(_thread=SimpleNamespace(_ensure_consumer=lambda: kafka))
    assert read_position(consumer, CHANGELOG[0]) == 251
    assert read_position(consumer, CHANGELOG[1]) is None  # being reset
    assert read_position(consumer, CHANGELOG[2]) is None  # not assigned
    assert read_position(SimpleNamespace(), CHANGELOG[0]) == PAST_ANY  # no such internals: read again


def test_aiokafka_still_has_the_subscription_state_read() -> None:
    """Pins the aiokafka internals ``read_position`` relies on (an upgrade that moves them makes
    the guard fall back to reading again whatever was skipped)."""
    from aiokafka.consumer.subscription_state import SubscriptionState, TopicPartitionState

    assert callable(SubscriptionState._assigned_state)
    assert {"position", "has_valid_position"} <= set(dir(TopicPartitionState))


@given(
    st.dictionaries(st.sampled_from(CHANGELOG), st.integers(0, 1000).map(lambda o: batch(o, 3)), max_size=4),
    st.sets(st.sampled_from(CHANGELOG)),
)
def test_every_fetched_record_is_either_handed_on_or_read_again(records: dict, active: set) -> None:
    seeks = Seeks()
    kept = asyncio.run(keep_or_read_again(records, active, set(), set(CHANGELOG), past, seeks))
    assert set(kept) == set(records) & active
    assert dict(seeks.calls) == {tp: b[0].offset for tp, b in records.items() if tp not in active}


def test_faust_hands_on_what_it_fetched_although_the_shared_active_set_changes() -> None:
    """The race itself, through Faust's own ``getmany``: the shared set loses a partition between
    the fetch and the hand-over (recovery pausing it). Unpatched, Faust skips those records."""
    keep_fetched_records()
    keep_fetched_records()  # idempotent
    active = {CHANGELOG[0], CHANGELOG[2]}
    records = {CHANGELOG[0]: batch(0, 2), CHANGELOG[2]: batch(0, 2)}
    seeks = Seeks()

    async def getmany(*, active_partitions: set, timeout: float) -> dict:  # noqa: ASYNC109 - Faust's
        return records

    async def run() -> list[tuple[Any, int]]:
        consumer: Any = SimpleNamespace(
            flow_active=True, can_resume_flow=None, not_waiting_next_records=asyncio.Event(),
            app=SimpleNamespace(client_only=False, consumer_generation_id=1,
                                monitor=SimpleNamespace(track_tp_end_offset=lambda tp, hw: None)),
            _get_active_partitions=lambda: active, _getmany=getmany, _buffered_partitions=set(),
            assignment=lambda: set(CHANGELOG), seek=seeks, highwater=lambda tp: 10,
            scheduler=SimpleNamespace(iterate=lambda recs: ((tp, r) for tp, rs in recs.items() for r in rs)),
            _to_message=lambda tp, r: (tp, r.offset), should_stop=False,
        )  # fmt: skip
        consumer._wait_next_records = lambda timeout: Consumer._wait_next_records(consumer, timeout)
        out = []
        async for tp, (_, offset) in Consumer.getmany(consumer, timeout=1.0):
            out.append((tp, offset))
            active.discard(CHANGELOG[0])  # paused while its records are being handed on
        return out

    delivered = asyncio.run(run())
    assert delivered == [(CHANGELOG[0], 0), (CHANGELOG[0], 1), (CHANGELOG[2], 0), (CHANGELOG[2], 1)]
    assert seeks.calls == []
