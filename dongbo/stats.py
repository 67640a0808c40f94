"""Statistics jobs over the stores: recount from ``dossier.state`` (verify) and rebuild after a loss.

The states on ``dossier.state`` (compacted: the latest per dossier) are the truth every figure is a
view of. Both jobs read them one partition at a time (a dossier's states are all on one
partition), so a city-year's recount holds one partition's states in memory, not all.
``verify`` recomputes every reporting row and every live Redis figure from them and lists each
difference; ``rebuild`` writes the stores again from them, through the sinks' own
version-guarded writes, so it is safe while the sinks run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from redis import Redis

from contract.settings import Settings
from contract.topics import topics_for
from dongbo.topic_reader import partitions_of, read_to_end
from schemas import codec
from sinks.redis_sink import RedisKeys, RedisStateSink, dimensions, keys_for, read_field, state_json
from sinks.report.query import Filters
from sinks.report.rows import COLUMNS, report_row, sectors_of
from sinks.report.store import ReportStore, connect
from streams.configured import catalogue


def latest_states(
    settings: Settings, progress: Callable[[int], None] | None = None, partitions: Sequence[int] | None = None
) -> dict[str, dict[str, Any]]:
    """The latest version of every dossier's state on ``dossier.state`` (on ``partitions`` only, if
    given: a dossier's states are all on one partition), as of now."""
    latest: dict[str, dict[str, Any]] = {}
    n = 0
    topic = topics_for(settings).state
    for msg in read_to_end(settings, topic, purpose="stats-recount", partitions=partitions):
        n += 1
        if progress and n % 50_000 == 0:
            progress(n)
        if msg.value() is None:
            continue  # a tombstone: nothing to count
        state = codec.decode("vn.dongbo.DossierState", msg.value() or b"")
        cur = latest.get(state["dossier_id"])
        if cur is None or state["version"] > cur["version"]:
            latest[state["dossier_id"]] = state
    return latest


def states_by_partition(
    settings: Settings, say: Callable[[str], None]
) -> Iterator[dict[str, dict[str, Any]]]:
    """The latest states, one partition at a time: a recount of a city-year holds one partition's
    states in memory, not all of them."""
    parts = partitions_of(settings, topics_for(settings).state)
    for i, p in enumerate(parts):
        states = latest_states(settings, partitions=[p])
        say(f"  partition {p} ({i + 1}/{len(parts)}): {len(states):,} dossiers")
        yield states


def open_store(settings: Settings) -> ReportStore:
    return ReportStore(connect(settings), sectors_of(catalogue(settings.domain)))


@dataclass
class Verification:
    dossiers: int = 0
    problems: list[str] = field(default_factory=list)
    counted: dict[str, int] = field(default_factory=dict)  # what was compared, per store

    @property
    def ok(self) -> bool:
        return not self.problems


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_comparable(v) for v in value]
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in sorted(value.items())}
    return value


def verify_report(store: ReportStore, states: Mapping[str, Mapping[str, Any]], out: Verification) -> None:
    """Every dossier of ``states`` has its row in the reporting store, equal to the row computed
    from its latest state."""
    ids = sorted(states)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        rows = {
            r["dossier_id"]: r
            for r in store.members(Filters().with_predicate("d.dossier_id = ANY(%(ids)s)", ids=chunk))
        }
        for did in chunk:
            row, want = rows.get(did), report_row(states[did], store.sectors)
            if row is None:
                out.problems.append(f"report: {did} (version {want['version']}) is missing")
                continue
            diff = [c for c in COLUMNS if _comparable(row[c]) != _comparable(want[c])]
            if diff:
                out.problems.append(
                    f"report: {did} differs in {', '.join(diff)} (stored version {row['version']}, "
                    f"state version {want['version']})"
                )
    out.counted["report"] = out.counted.get("report", 0) + len(ids)


def verify_report_extras(store: ReportStore, ids: set[str], out: Verification) -> None:
    """No row is in the reporting store without a state on the topic."""
    for row in store.members(Filters(), ("dossier_id",)):
        if row["dossier_id"] not in ids:
            out.problems.append(f"report: {row['dossier_id']} is stored but has no state on the topic")


def verify_redis_versions(
    client: Redis, keys: RedisKeys, states: Mapping[str, Mapping[str, Any]], out: Verification
) -> None:
    """Every dossier of ``states`` is stored in Redis at its latest version."""
    versions = read_field(client, keys, sorted(states), "version")
    for did, version in versions.items():
        if version is None or int(version) != int(states[did]["version"]):
            out.problems.append(
                f"redis: {did} is at version {version and int(version)}, "
                f"the state at {states[did]['version']}"
            )


def verify_redis_figures(client: Redis, keys: RedisKeys, want: Counter[str], out: Verification) -> None:
    """Every live figure equals the recount ``want``, with as many members as its count."""
    stored = {k.decode(): int(v) for k, v in client.hgetall(keys.stats).items() if int(v) != 0}
    for dim in sorted(set(want) | set(stored)):
        if want.get(dim, 0) != stored.get(dim, 0):
            out.problems.append(
                f"redis: figure {dim} is {stored.get(dim, 0)}, the recount {want.get(dim, 0)}"
            )
    pipe = client.pipeline(transaction=False)
    dims = sorted(want)
    for dim in dims:
        pipe.scard(keys.members(dim))
    for dim, size in zip(dims, pipe.execute(), strict=True):
        if int(size) != want[dim]:
            out.problems.append(f"redis: figure {dim} counts {want[dim]} but lists {size} dossiers")
    out.counted["redis"] = sum(want.values())


def verify(settings: Settings, say: Callable[[str], None]) -> Verification:
    """Recount every figure from ``dossier.state``, one partition at a time (module docstring)."""
    out = Verification()
    client, keys = Redis.from_url(settings.redis.url, **settings.redis.auth()), keys_for(settings)
    want: Counter[str] = Counter()
    ids: set[str] = set()
    say("reading dossier.state and comparing, partition by partition ...")
    store = open_store(settings)
    try:
        for states in states_by_partition(settings, say):
            out.dossiers += len(states)
            ids.update(states)
            verify_report(store, states, out)
            verify_redis_versions(client, keys, states, out)
            for state in states.values():
                want.update(dimensions(state_json(dict(state))))
        verify_report_extras(store, ids, out)
    finally:
        store.conn.close()
    verify_redis_figures(client, keys, want, out)
    return out


def clear_redis(client: Redis, keys: RedisKeys) -> int:
    """Remove every dossier, figure and member list of this deployment (its key prefix) from Redis."""
    removed = 0
    for pattern in (f"{keys.dossier('')}*", f"{keys.members_prefix}*"):
        batch: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                removed += int(client.unlink(*batch))
                batch = []
        if batch:
            removed += int(client.unlink(*batch))
    return removed + int(client.unlink(keys.stats))


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def rebuild(
    settings: Settings, say: Callable[[str], None], stores: tuple[str, ...] = ("report", "redis")
) -> int:
    """Empty the chosen stores and write every latest state into them again, one partition at a
    time; the count written."""
    store = open_store(settings) if "report" in stores else None
    client = Redis.from_url(settings.redis.url, **settings.redis.auth()) if "redis" in stores else None
    sink = RedisStateSink(client, keys_for(settings)) if client is not None else None
    try:
        if store is not None:
            store.clear()
        if client is not None:
            say(f"redis: {clear_redis(client, keys_for(settings)):,} keys removed")
        done = 0
        for states in states_by_partition(settings, say):
            for batch in _batches(states.values(), 1000):
                if store is not None:
                    store.write(batch)
                if sink is not None:
                    sink.write(batch)
                done += len(batch)
        return done
    finally:
        if store is not None:
            store.conn.close()
