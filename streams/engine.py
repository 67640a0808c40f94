"""The merge engine without Kafka: table, state cache, per-partition timers and stream time.

The merge agent (``streams.agents.merge``) is this engine plus I/O: it feeds decoded events and
watermarks in and sends what comes out (states, conflict changes, alerts) to their topics. Keeping
the bookkeeping here lets a replay run the very same logic in-process (``dongbo accuracy
--offline``, tests, benchmarks), so what is measured offline is what the worker does.

Time (``streams.streamtime``): each partition's time is what every source has delivered on it,
lifted by explicit watermarks; the engine acts on a moment only once that time has passed it, and
evaluates each dossier at exactly its moments (a record becoming visible at its capture time, a
tolerance running out, a deadline judged), in order. So the outputs do not depend on how the
sources' records interleave on the partition: a backlog replay gives what a live run gave.

Writes: with ``write_through=False`` the table is not written at once; ``take_writes`` hands the
writes over and the caller writes them after the outputs are acknowledged (outputs first, then
the state that records them: a crash in between republishes, it never loses an output).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime

from streams.domain.calendar import MAX_YEAR, MIN_YEAR, CalendarError
from streams.merge import MergeResult, apply_event, apply_hidden, conflict_changes, evaluate, new_alerts
from streams.merge_policy import MergePolicy
from streams.model import DossierEvent
from streams.state import Conflict, DossierState
from streams.statecache import DEFAULT_MIB, StateCache
from streams.streamtime import PartitionClock, clock_key, is_meta
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

    @property
    def at(self) -> datetime | None:
        """The moment of this step (the dossier's evaluation time): deterministic, not the wall."""
        return self.state.evaluated_at


log = logging.getLogger(__name__)

# The moment a dossier is "evaluated" at before its partition's time starts: earlier than any
# capture the normaliser lets through (it refuses times before 2000), so nothing is visible.
BEFORE_TIME = datetime(1970, 1, 1, tzinfo=UTC)

# A time the rules can count from: a deadline adds at most months of working time to any of an
# event's times, so these bounds keep every computation inside the calendar's years.
SAFE_YEARS = (MIN_YEAR + 5, MAX_YEAR - 10)


def out_of_range(event: DossierEvent) -> str | None:
    """Why the rules could not work with this event's times (None: they can)."""
    for name, value in vars(event).items():
        if isinstance(value, datetime) and not SAFE_YEARS[0] <= value.year <= SAFE_YEARS[1]:
            lo, hi = SAFE_YEARS
            return f"{name}={value.isoformat()} is outside the years the calendar counts ({lo}–{hi})"
    return None


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
    The table also holds each partition's clock (``streamtime.clock_key``)."""

    def __init__(
        self,
        policy: MergePolicy,
        table: MutableMapping[bytes, bytes],
        partition_of: Callable[[bytes], int],
        *,
        expected_sources: tuple[str, ...] = (),
        cache_mib: int = DEFAULT_MIB,
        write_through: bool = True,
        catch_up_limit: int | None = None,
    ) -> None:
        self.policy, self.table, self.partition_of = policy, table, partition_of
        self.expected_sources = expected_sources
        self.write_through = write_through
        # At most this many moments visited between two ``take_writes`` (None: every one that has
        # come, at once), besides those of an event's own dossier (they come before its event).
        # A leap of time (the first tick after a backlog, a replay's closing watermark) can pass
        # the moments of every open dossier at once; the worker stores what a bounded step
        # produced before it visits more (``catch_up``), so its memory and batches stay bounded.
        self.catch_up_limit = None if catch_up_limit is None else max(1, catch_up_limit)
        self._visited = 0  # moments visited since the last take_writes
        self.timers: dict[int, TimerIndex] = {}
        self.clocks: dict[int, PartitionClock] = {}
        self.cache = StateCache(max_bytes=cache_mib * 1024**2)
        # key -> (partition, state or clock) not yet in the table: serialised once, when handed over
        self._writes: dict[bytes, tuple[int, DossierState | PartitionClock]] = {}
        self._clock_keys: dict[int, bytes] = {}
        self._loaded = False

    # -- reading -----------------------------------------------------------------------------

    def state(self, key: bytes) -> DossierState | None:
        if is_meta(key):
            return None
        pending = self._writes.get(key)
        if pending is not None:
            return pending[1]  # type: ignore[return-value]  # dossier keys hold states
        return self.cache.load(key, self.table.get(key))

    def states(self) -> Iterator[DossierState]:
        """Every dossier state in the table (offline: after the last ``take_writes``)."""
        for key in list(self.table.keys()):
            state = self.state(key)
            if state is not None:
                yield state

    def time(self, partition: int) -> datetime | None:
        """The partition's stream time (None: nothing read on it yet)."""
        return self._clock(partition).now

    # -- steps -------------------------------------------------------------------------------

    def on_event(self, partition: int, event: DossierEvent) -> Step:
        """Read one event: the partition's time moves (its passed moments handled first, in
        order), then the event joins its dossier's history, visible from its capture time.

        Failure policy (docs/guarantees.md): an event whose data the rules cannot work with (a
        date the business calendar cannot count to, arithmetic past the range of dates) is
        rejected as a value, with the outputs of the moments already passed; the table is left as
        it was. Anything else raised here is a bug and propagates: the worker stops loudly."""
        clock = self._clock(partition)
        if clock.saw(event.source, event.ingested_at):
            self._put_clock(partition)
        key = event.dossier_id.encode()
        outputs = self._catch_up(partition, first=key)
        state = self.state(key)
        # Evaluated at the partition's time, never earlier than the dossier already was. Before
        # the time starts, at a moment before any capture: the record is only kept, it shows when
        # the time reaches its capture, as it would have live.
        last = state.evaluated_at if state is not None else None
        now = clock.now if clock.now is not None else BEFORE_TIME
        if last is not None and last > now:
            now = last
        if event.ingested_at > now and (state is None or state.evaluated_at is not None):
            # Not visible yet (the common case on the stream clock): kept, nothing derived. What
            # the rules will make of it is only known when it shows, in a look with no message to
            # dead-letter; a time the calendar cannot count to is refused now.
            wrong = out_of_range(event)
            if wrong is not None:
                return Step(outputs, Rejection("merge_rejected", wrong))
            result = apply_hidden(state, event, BEFORE_TIME)
            if result.applied:
                # Nothing derived changed: the next moment is the old one or this capture.
                self._put(partition, key, result.state)
                self._index(partition).schedule_by(key, event.ingested_at)
            outputs.append(self._output(partition, key, state, result, republish=False, schedule=False))
            return Step(outputs)
        try:
            result = apply_event(state, event, now, self.policy)
        except DATA_ERRORS as exc:
            return Step(outputs, Rejection("merge_rejected", f"{type(exc).__name__}: {exc}"))
        # A redelivered event re-publishes the current state (cheap insurance: sinks keep the
        # highest version). Its conflict changes and alerts need no second send: the agent stores
        # a state only once what it produced has been acknowledged (docs/guarantees.md).
        outputs.append(self._record(partition, key, state, result, republish=not result.applied))
        return Step(outputs)

    def advance(self, partition: int, until: datetime) -> list[Output]:
        """Every input of ``partition`` is complete up to ``until`` (the end of a replay, or a live
        worker caught up): its moments up to then, in order."""
        if self._clock(partition).lift(until):
            self._put_clock(partition)
        return self._catch_up(partition)

    def behind(self, partition: int) -> bool:
        """Whether moments up to the partition's time are still to be visited (``catch_up``)."""
        now = self.clocks[partition].now if partition in self.clocks else None
        index = self.timers.get(partition)
        return now is not None and index is not None and index.has_due(now)

    def catch_up(self, partition: int) -> list[Output]:
        """The next moments up to the partition's time, as many as ``catch_up_limit`` still allows
        before the next ``take_writes``."""
        return self._catch_up(partition)

    def take_writes(self) -> list[tuple[int, bytes, bytes]]:
        """(partition, key, value) written since the last call, for the caller to store, in the
        order to store them: each partition's clock after its states. The changelog keeps a
        partition's records in order, so a crash that loses the end of a batch's writes can leave
        states without the clock (their events are redelivered and found applied), never the clock
        without the states it counts (redelivered events would then be read as late)."""
        writes = []
        for key, (p, value) in self._writes.items():
            raw = value.dumps()
            if isinstance(value, DossierState):
                self.cache.put(key, raw, value)
            writes.append((p, key, raw))
        self._writes.clear()
        self._visited = 0
        return sorted(writes, key=lambda w: is_meta(w[1]))  # stable: states first, in order

    def forget(self) -> None:
        """After a rebalance: clocks and timers are read again from the table when next needed
        (a partition may come back advanced by another worker)."""
        if self._writes:
            raise RuntimeError("forget() with writes not yet stored: store them first")
        self.timers.clear()
        self.clocks.clear()
        self._loaded = False

    # -- internals ---------------------------------------------------------------------------

    def _clock(self, partition: int) -> PartitionClock:
        self._load()
        clock = self.clocks.get(partition)
        if clock is None:
            clock = self.clocks[partition] = PartitionClock()
        clock.expected = self.expected_sources
        return clock

    def _load(self) -> None:
        """Clocks and the due-time index from the table, once (start, after a rebalance)."""
        if self._loaded:
            return
        self._loaded = True
        for key, raw in list(self.table.items()):
            if is_meta(key):
                if key.startswith(b"\x00clock:"):
                    self.clocks[int(key.split(b":")[1])] = PartitionClock.loads(raw)
                continue
            self._schedule(self.partition_of(key), key, DossierState.loads(raw))

    def _put_clock(self, partition: int) -> None:
        key = self._clock_keys.get(partition)
        if key is None:
            key = self._clock_keys[partition] = clock_key(partition, self.partition_of)
        self._put(partition, key, self.clocks[partition])

    def _put(self, partition: int, key: bytes, value: DossierState | PartitionClock) -> None:
        self._writes[key] = (partition, value)
        if self.write_through:
            for _, k, raw in self.take_writes():
                self.table[k] = raw  # assigned back, or it never reaches the changelog

    def _catch_up(self, partition: int, first: bytes | None = None) -> list[Output]:
        """The moments up to the partition's time, in order, each evaluated at its own time (a
        near-deadline alert still fires before the overdue one when time leaps past both); a look
        that schedules a further moment before then is visited in turn. With a limit, as many as
        it still allows, after every moment of dossier ``first`` (an event's own dossier: its
        moments come before its event). Dossiers do not depend on one another: visiting one
        dossier's moments ahead of another's changes no output, only the order they are sent in."""
        now = self.clocks[partition].now
        index = self.timers.get(partition)
        outputs: list[Output] = []
        if now is None or index is None:
            return outputs
        limit = self.catch_up_limit
        if limit is not None and first is not None:
            while (moment := index.pop_key(first, now)) is not None:
                out = self._look_again(partition, first, moment)
                if out is not None:
                    outputs.append(out)
        while (limit is None or self._visited < limit) and (due := index.pop_next(now)) is not None:
            key, moment = due
            self._visited += 1
            out = self._look_again(partition, key, moment)
            if out is not None:
                outputs.append(out)
        return outputs

    def _look_again(self, partition: int, key: bytes, now: datetime) -> Output | None:
        """Time has passed for this dossier: re-evaluate it with no new event."""
        current = self.state(key)
        if current is None:
            return None
        if current.evaluated_at is not None and current.evaluated_at > now:
            self._schedule(partition, key, current)
            return None
        try:
            result = evaluate(current, now, self.policy)
        except DATA_ERRORS:
            # Not expected: times the rules cannot count from are refused when read
            # (``out_of_range``). The dossier stays as it was until its next event; the worker goes on.
            log.exception(
                "dossier %s cannot be evaluated at %s; left as it was", key.decode(errors="replace"), now
            )
            return None
        return self._record(partition, key, current, result, republish=False)

    def _index(self, partition: int) -> TimerIndex:
        return self.timers.setdefault(partition, TimerIndex())

    def _schedule(self, partition: int, key: bytes, state: DossierState) -> None:
        self._index(partition).schedule(key, state_next_moment(state, self.policy))

    def _record(
        self, partition: int, key: bytes, old: DossierState | None, result: MergeResult, republish: bool
    ) -> Output:
        if result.changed or result.applied:
            self._put(partition, key, result.state)
        return self._output(partition, key, old, result, republish)

    def _output(
        self,
        partition: int,
        key: bytes,
        old: DossierState | None,
        result: MergeResult,
        republish: bool,
        schedule: bool = True,
    ) -> Output:
        new = result.state
        opened, resolved = conflict_changes(old, new)
        alerts = new_alerts(old, new)
        if schedule:
            self._schedule(partition, key, new)
        return Output(
            key=key,
            state=new,
            applied=result.applied,
            changed=result.changed,
            send_state=result.changed or republish,
            opened=tuple(opened),
            resolved=tuple(resolved),
            alerts=tuple(alerts),
        )
