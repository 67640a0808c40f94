"""Statistics jobs over the stores: recount from ``dossier.state`` (verify) and rebuild after a loss.

The states on ``dossier.state`` (compacted: the latest per dossier) are the truth every figure is a
view of. ``verify`` recomputes every reporting row and every live Redis figure from them and lists
each difference; ``rebuild`` writes the stores again from them, through the sinks' own
version-guarded writes, so it is safe while the sinks run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from redis import Redis

from contract.settings import Settings
from contract.topics import topics_for
from dongbo.topic_reader import read_to_end
from schemas import codec
from sinks.redis_sink import RedisKeys, RedisStateSink, dimensions, keys_for, state_json
from sinks.report.rows import COLUMNS, report_row, sectors_of
from sinks.report.store import ReportStore, connect
from streams.configured import catalogue


def latest_states(
    settings: Settings, progress: Callable[[int], None] | None = None
) -> dict[str, dict[str, Any]]:
    """The latest version of every dossier's state on ``dossier.state``, as of now."""
    latest: dict[str, dict[str, Any]] = {}
    n = 0
    for msg in read_to_end(settings, topics_for(settings).state, purpose="stats-recount"):
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
    """Every row of the reporting store equals the row computed from the latest state, and no row is
    there without a state."""
    seen: set[str] = set()
    for row in store.all_rows():
        did = row["dossier_id"]
        seen.add(did)
        state = states.get(did)
        if state is None:
            out.problems.append(f"report: {did} is stored but has no state on the topic")
            continue
        want = report_row(state, store.sectors)
        diff = [c for c in COLUMNS if _comparable(row[c]) != _comparable(want[c])]
        if diff:
            out.problems.append(
                f"report: {did} differs in {', '.join(diff)} (stored version {row['version']}, "
                f"state version {want['version']})"
            )
    for did in sorted(set(states) - seen):
        out.problems.append(f"report: {did} (version {states[did]['version']}) is missing")
    out.counted["report"] = len(seen)


def verify_redis(
    client: Redis, keys: RedisKeys, states: Mapping[str, Mapping[str, Any]], out: Verification
) -> None:
    """Every live figure equals a recount from the states, with as many members as its count, and
    every dossier is stored at its latest version."""
    want: Counter[str] = Counter()
    for state in states.values():
        want.update(dimensions(state_json(dict(state))))
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
    ids = sorted(states)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        pipe = client.pipeline(transaction=False)
        for did in chunk:
            pipe.hget(keys.dossier(did), "version")
        for did, version in zip(chunk, pipe.execute(), strict=True):
            if version is None or int(version) != int(states[did]["version"]):
                out.problems.append(
                    f"redis: {did} is at version {version and int(version)}, "
                    f"the state at {states[did]['version']}"
                )
    out.counted["redis"] = sum(want.values())


def verify(settings: Settings, say: Callable[[str], None]) -> Verification:
    say("reading every state on dossier.state ...")
    states = latest_states(settings, lambda n: say(f"  {n:,} records read"))
    out = Verification(dossiers=len(states))
    say(f"{len(states):,} dossiers; comparing the reporting store ...")
    store = open_store(settings)
    try:
        verify_report(store, states, out)
    finally:
        store.conn.close()
    say("comparing the live figures in Redis ...")
    verify_redis(Redis.from_url(settings.redis.url), keys_for(settings), states, out)
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
    """Empty the chosen stores and write every latest state into them again; the count written."""
    say("reading every state on dossier.state ...")
    states = latest_states(settings, lambda n: say(f"  {n:,} records read"))
    say(f"{len(states):,} dossiers to write")
    store = open_store(settings) if "report" in stores else None
    client = Redis.from_url(settings.redis.url) if "redis" in stores else None
    sink = RedisStateSink(client, keys_for(settings)) if client is not None else None
    try:
        if store is not None:
            store.clear()
        if client is not None:
            say(f"redis: {clear_redis(client, keys_for(settings)):,} keys removed")
        done = 0
        for batch in _batches(states.values(), 1000):
            if store is not None:
                store.write(batch)
            if sink is not None:
                sink.write(batch)
            done += len(batch)
            if done % 50_000 < len(batch):
                say(f"  {done:,} / {len(states):,} written")
        return done
    finally:
        if store is not None:
            store.conn.close()


def to_jsonable(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False, default=str, indent=1)
