"""The merge engine without Kafka: table, state cache, per-partition timers and stream watermarks.

The merge agent (``streams.agents.merge``) is this engine plus I/O: it feeds decoded events and
ticks in and sends what comes out (states, conflict changes, alerts) to their topics. Keeping the
bookkeeping here lets a replay run the very same logic in-process (``dongbo accuracy --offline``,
tests, benchmarks), so what is measured offline is what the worker does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from datetime import datetime

from streams.domain.calendar import CalendarError
from streams.merge import MergeResult, apply_event, conflict_changes, evaluate, new_alerts
from streams.merge_policy import MergePolicy
from streams.model import DossierEvent
from streams.state import Conflict, DossierState
from streams.statecache import StateCache
from streams.timers import TimerIndex, state_next_moment


@dataclass(frozen=True)
class Output:
    """What one step produced for one dossier: what the I/O edge must publish."""

    key: bytes
    state: DossierState
    applied: bool  # an event was applied (False: a duplicate, a redelivery, or a look with no event)
    changed: bool  # the visible state changed (version went up)
    send_state: bool  # publish the state (changed, or republished after a redelivery)
    opened: tuple[Conflict, ...]
    resolved: tuple[Conflict, ...]
    alerts: tuple[str, ...]


# Errors of the data, not of the code: the rules were handed a value they cannot work with.
DATA_ERRORS: tuple[type[Exception], ...] = (CalendarError, OverflowError)


@dataclass(frozen=True)
class Rejection:
    reason: str  # a stable code for the dead-letter topic
    detail: str


@dataclass(frozen=True)
class Step:
    """What one event produced: the outputs to publish, and whether the event itself was rejected."""

    outputs: list[Output]
    rejected: Rejection | None = None

    @property
    def applied(self) -> bool:
        """The event's own dossier changed by it (the last output is that dossier's)."""
        return self.rejected is None and bool(self.outputs) and self.outputs[-1].applied


class MergeEngine:
    """One worker's merge state. ``table`` is the Faust table in the worker, a dict offline;
    ``partition_of(key)`` the partition a dossier's key lands on (the Kafka partitioner, handed in).

    Clock: with ``stream_clock`` the time of a partition is its watermark, the latest event time
    seen on it, and the moments it passes are handled before the event that moved it; otherwise
    the caller passes the wall time and asks for ``due`` keys on its own schedule.
    """

    def __init__(
        self,
        policy: MergePolicy,
        table: MutableMapping[bytes, bytes],
        partition_of: Callable[[bytes], int],
        *,
        stream_clock: bool,
        cache_size: int = 50_000,
    ) -> None:
        self.policy, self.table, self.stream_clock = policy, table, stream_clock
        self.partition_of = partition_of
        self.timers: dict[int, TimerIndex] = {}
        self.watermarks: dict[int, datetime] = {}
        self.cache = StateCache(maxsize=cache_size)

    def state(self, key: bytes) -> DossierState | None:
        return self.cache.load(key, self.table.get(key))

    def on_event(self, partition: int, event: DossierEvent, wall: datetime) -> Step:
        """Apply one event (stream clock: after the moments its watermark passed, in order).

        Failure policy (docs/guarantees.md): an event whose data the rules cannot work with (a
        date the business calendar cannot count to, arithmetic past the range of dates) is
        rejected as a value, with the outputs of the moments already passed; the table is left as
        it was. Anything else raised here is a bug and propagates: the worker stops loudly."""
        outputs: list[Output] = []
        now = wall
        if self.stream_clock:
            now = max(self.watermarks.get(partition, event.occurred_at), event.occurred_at)
            self.watermarks[partition] = now
            outputs += self._catch_up(partition, now)
        key = event.dossier_id.encode()
        state = self.state(key)
        try:
            result = apply_event(state, event, now, self.policy)
        except DATA_ERRORS as exc:
            return Step(outputs, Rejection("merge_rejected", f"{type(exc).__name__}: {exc}"))
        # A redelivered event (after a crash) re-publishes the current state: the first
        # publication may have been lost with the crash. Sinks keep the highest version.
        outputs.append(self._record(key, state, result, republish=not result.applied))
        return Step(outputs)

    def advance(self, partition: int, until: datetime) -> list[Output]:
        """Stream clock: time on ``partition`` has reached ``until`` with no event (the end of a
        replay, announced once everything before it was consumed): its moments up to then."""
        if not self.stream_clock:
            return []
        now = max(self.watermarks.get(partition, until), until)
        self.watermarks[partition] = now
        return self._catch_up(partition, now)

    def _catch_up(self, partition: int, now: datetime) -> list[Output]:
        """Every moment up to ``now`` on the partition, in order, each evaluated at its own time
        (a near-deadline alert still fires before the overdue one when stream time leaps past
        both); a look that schedules a further moment before ``now`` is visited in turn."""
        index = self.timers.get(partition)
        outputs: list[Output] = []
        while index is not None and (due := index.pop_next(now)) is not None:
            key, moment = due
            out = self.look_again(key, moment)
            if out is not None:
                outputs.append(out)
        return outputs

    def look_again(self, key: bytes, now: datetime) -> Output | None:
        """Time has passed for this dossier: re-evaluate it with no new event."""
        current = self.state(key)
        if current is None:
            return None
        return self._record(key, current, evaluate(current, now, self.policy), republish=False)

    def due(self, now: datetime) -> list[bytes]:
        """Wall clock: the dossiers whose moment has come, across this worker's partitions."""
        return [key for index in self.timers.values() for key in index.pop_due(now)]

    def rebuild_timers(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        """After a rebalance: the index from the states this worker now owns."""
        self.timers.clear()
        for key, raw in items:
            self._schedule(key, DossierState.loads(raw))

    def _schedule(self, key: bytes, state: DossierState) -> None:
        index = self.timers.setdefault(self.partition_of(key), TimerIndex())
        index.schedule(key, state_next_moment(state, self.policy))

    def _record(self, key: bytes, old: DossierState | None, result: MergeResult, republish: bool) -> Output:
        new = result.state
        if result.changed or result.applied:
            raw = new.dumps()
            self.table[key] = raw  # assigned back, or it never reaches the changelog
            self.cache.put(key, raw, new)
        opened, resolved = conflict_changes(old, new)
        self._schedule(key, new)
        return Output(
            key=key,
            state=new,
            applied=result.applied,
            changed=result.changed,
            send_state=result.changed or republish,
            opened=tuple(opened),
            resolved=tuple(resolved),
            alerts=tuple(new_alerts(old, new)),
        )
