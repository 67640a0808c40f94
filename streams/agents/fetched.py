"""No record Faust has fetched is dropped without being read again.

Faust (faust-streaming 0.15.3) fetches through aiokafka for the partitions it holds as active at
that moment, then hands the records on one by one, skipping those whose partition is no longer in
its active set (``Consumer.getmany``). That set is one mutable object shared with the fetch, and
recovery pauses and resumes partitions around it; aiokafka has moved its read position past the
skipped records, so nothing reads them again. The scale-out test caught it on a standby table
partition: a worker's first fetch of a standby changelog (offsets 0..250, resumed a moment before)
was skipped whole, the standby went on from offset 251, and when that partition became the
worker's own, every dossier written before 251 was missing from its table: merged again from
nothing, their alerts sent a second time. A stream partition's skipped records were caught later
by ``streams.agents.offsets.in_order``; a changelog's were lost for good.

The guard: the records of a partition no longer active when the fetch returns are not handed on,
and the partition is sought back to the first of them, so they are fetched again once it is
resumed (a revoked partition is someone else's: nothing to do). The records handed on are judged
against that moment's active partitions, not against the shared set, which can still change while
they are handed on. A seek only ever moves a position back: if something else (Faust's recovery,
a rebalance's seek to the committed offsets) has set the position since the fetch, at or before
the first record, or is resetting it, that position stands.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from faust.transport.consumer import Consumer

log = logging.getLogger(__name__)

Records = Mapping[Any, Sequence[Any]]  # partition -> aiokafka records (each with ``.offset``)


async def keep_or_read_again(
    records: Records,
    active: set[Any] | frozenset[Any],
    buffered: set[Any],
    assigned: set[Any],
    position: Callable[[Any], int | None],
    seek: Callable[[Any, int], Awaitable[None]],
) -> dict[Any, Sequence[Any]]:
    """The records to hand on (their partition is active or buffered); each other partition still
    assigned, and read past its first record (``position``: the next offset to fetch, None while
    being reset), is sought back to that record, so that the records are fetched again."""
    kept: dict[Any, Sequence[Any]] = {}
    for tp, batch in records.items():
        if tp in active or tp in buffered:
            kept[tp] = batch
        elif batch and tp in assigned:
            first, now = batch[0].offset, position(tp)
            if now is not None and now > first:
                log.info("%d records of %s[%d] fetched while the partition was paused: read again from %d",
                         len(batch), tp.topic, tp.partition, first)  # fmt: skip
                await seek(tp, first)
    return kept


def read_position(consumer: Any, tp: Any) -> int | None:
    """The next offset Faust's aiokafka consumer will fetch for ``tp`` (None: being reset). Read
    from aiokafka's subscription state, as Faust's own ``seek`` writes it, without a round trip to
    the consumer thread; should that state not be found (another aiokafka), the position is taken
    to be past any fetched record, so that the records are read again rather than lost."""
    try:
        state = consumer._thread._ensure_consumer()._subscription._assigned_state(tp)
        return state.position if state.has_valid_position else None
    except AttributeError:
        return PAST_ANY
    except Exception:  # noqa: BLE001 - not assigned any more (aiokafka's IllegalStateError): nothing to read
        return None


PAST_ANY = 2**63


def keep_fetched_records() -> None:
    """Patched on Faust's base consumer class (the worker process runs one Faust app); idempotent."""
    original = Consumer._wait_next_records
    if getattr(original, "_dongbo", False):
        return

    async def _wait_next_records(self: Any, timeout: float) -> tuple[Any, Any]:  # noqa: ASYNC109 - Faust's
        records, active = await original(self, timeout)
        if not records or active is None:  # None: a client-only app hands everything on
            return records, active
        if all(tp in active for tp in records):  # the usual case: nothing to judge, no copies
            return records, frozenset(records)
        kept = await keep_or_read_again(
            records, set(active), set(self._buffered_partitions), set(self.assignment()),
            lambda tp: read_position(self, tp), self.seek,
        )  # fmt: skip
        return kept, frozenset(kept)

    _wait_next_records._dongbo = True  # type: ignore[attr-defined]
    Consumer._wait_next_records = _wait_next_records  # type: ignore[method-assign]
