"""Redis sink: each dossier's unified state for lookup, and live statistics derived from states.

Idempotent and version-guarded: one Lua script per state compares versions, so an older or
repeated state never overwrites a newer one. Statistics are views of state: the script retracts
the dossier's previous classification and adds the new one in the same atomic step, so every
figure always equals a recount, and each figure's members are kept as a set (the list behind it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from redis import Redis
from redis.exceptions import NoPermissionError, RedisError

from contract.settings import Settings
from sinks.runner import sink_group
from streams.model import VN_TZ

log = logging.getLogger(__name__)

# KEYS: dossier hash, stats hash. ARGV: version, json, dims (newline-joined), members prefix, id.
UPSERT = """
local cur = redis.call('HGET', KEYS[1], 'version')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
local old = redis.call('HGET', KEYS[1], 'dims')
if old and old ~= '' then
  for dim in string.gmatch(old, '[^\\n]+') do
    redis.call('HINCRBY', KEYS[2], dim, -1)
    redis.call('SREM', ARGV[4] .. dim, ARGV[5])
  end
end
if ARGV[3] ~= '' then
  for dim in string.gmatch(ARGV[3], '[^\\n]+') do
    redis.call('HINCRBY', KEYS[2], dim, 1)
    redis.call('SADD', ARGV[4] .. dim, ARGV[5])
  end
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'json', ARGV[2], 'dims', ARGV[3])
return 1
"""


@dataclass(frozen=True)
class RedisKeys:
    prefix: str = "dongbo:"

    def dossier(self, dossier_id: str) -> str:
        return f"{self.prefix}dossier:{dossier_id}"

    @property
    def stats(self) -> str:
        return f"{self.prefix}stats"

    @property
    def members_prefix(self) -> str:
        return f"{self.prefix}members:"

    def members(self, dim: str) -> str:
        return f"{self.members_prefix}{dim}"


def keys_for(settings: Settings) -> RedisKeys:
    return RedisKeys(f"dongbo:{settings.worker.topic_prefix}")


def dimensions(state: dict[str, Any]) -> list[str]:
    """The figures a state counts towards. Adding one here adds a live statistic."""
    status = state.get("status") or "NONE"
    outcome = state.get("outcome") or "PENDING"
    unit = state.get("unit_code") or "?"
    proc = state.get("procedure_code") or "?"
    channel = state.get("channel") or "UNKNOWN"
    dims = [
        "all",
        f"status={status}",
        f"outcome={outcome}",
        f"channel={channel}",
        f"unit={unit}|status={status}",
        f"unit={unit}|outcome={outcome}",
        f"procedure={proc}|outcome={outcome}",
    ]
    # What a ward watches: its open dossiers past or near their due time, its open conflicts. Open
    # is "not ended": an open dossier past its due time already has the outcome OVERDUE.
    if not state.get("ended_at"):
        alerts = set(state.get("alerts") or ())
        if "overdue" in alerts or outcome == "OVERDUE":
            dims.append(f"unit={unit}|open=overdue")
        elif "near_deadline" in alerts:
            dims.append(f"unit={unit}|open=near_deadline")
    dims += [f"unit={unit}|conflict={k}" for k in sorted({c["kind"] for c in state.get("conflicts") or ()})]
    return dims


class LiveFigures:
    """The ward figures of the Redis sink as Prometheus gauges, read from Redis at each scrape:
    open dossiers overdue / near their due time, and open conflicts by kind, per unit."""

    def __init__(self, client: Redis, keys: RedisKeys) -> None:
        self.client, self.keys = client, keys

    def collect(self) -> Iterator[GaugeMetricFamily]:
        open_ = GaugeMetricFamily(
            "dongbo_open_dossiers", "Open dossiers past (overdue) or near (near_deadline) their due, by unit",
            labels=["unit", "state"],
        )  # fmt: skip
        conflicts = GaugeMetricFamily(
            "dongbo_open_conflicts", "Dossiers with an open conflict between systems, by unit and kind",
            labels=["unit", "kind"],
        )  # fmt: skip
        by_status = GaugeMetricFamily("dongbo_dossiers", "Dossiers by unified status", labels=["status"])
        try:
            stats = self.client.hgetall(self.keys.stats)
        except RedisError:
            return  # the sink's own error metrics say Redis is down; no figure beats a wrong one
        for raw, count in stats.items():
            field, value = raw.decode(), float(count)
            unit, _, figure = field.partition("|")
            if field.startswith("status="):
                by_status.add_metric([field[len("status=") :]], value)
            elif unit.startswith("unit=") and figure.startswith("open="):
                open_.add_metric([unit[5:], figure[5:]], value)
            elif unit.startswith("unit=") and figure.startswith("conflict="):
                conflicts.add_metric([unit[5:], figure[9:]], value)
        yield from (open_, conflicts, by_status)


def state_json(record: dict[str, Any]) -> dict[str, Any]:
    """The Avro record of a state as JSON-able data (datetimes as ISO strings in +07:00, the time
    officials read; Avro hands them back in UTC)."""

    def conv(v: Any) -> Any:
        if isinstance(v, datetime):
            return v.astimezone(VN_TZ).isoformat()
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v

    return conv(record)


def _args(keys: RedisKeys, state: dict[str, Any]) -> tuple[list[str], list[Any]]:
    doc = state_json(state)
    return (
        [keys.dossier(doc["dossier_id"]), keys.stats],
        [
            doc["version"],
            json.dumps(doc, ensure_ascii=False, separators=(",", ":")),
            "\n".join(dimensions(doc)),
            keys.members_prefix,
            doc["dossier_id"],
        ],
    )


class RedisStateSink:
    """The Redis sink (run by ``sinks.runner`` in its own consumer group; tools and tests call it too)."""

    name = "redis"
    retryable: tuple[type[Exception], ...] = (RedisError, OSError)

    def __init__(self, client: Redis, keys: RedisKeys) -> None:
        self.client, self.keys = client, keys
        self._script = client.register_script(UPSERT)
        self._run_id: str | None = None  # the Redis server's run id when last looked at

    def lost_since_last_look(self) -> bool:
        """Redis restarted since the last call (a new run id): what it had not snapshotted is gone
        while the sink's offsets moved past it (found by the chaos suite: 28 dossiers lost)."""
        try:
            run_id = str(self.client.info("server").get("run_id"))
        except NoPermissionError:
            if self._run_id != "":
                log.warning("redis sink: this Redis user may not run INFO; a Redis restart that lost "
                            "writes will not be noticed (run `dongbo stats verify`)")  # fmt: skip
            self._run_id = ""
            return False
        before, self._run_id = self._run_id, run_id
        return before is not None and before != run_id

    def write(self, states: Iterable[dict[str, Any]]) -> int:
        pipe = self.client.pipeline(transaction=True)
        n = 0
        for state in states:
            k, a = _args(self.keys, state)
            self._script(keys=k, args=a, client=pipe)
            n += 1
        return sum(int(r) for r in pipe.execute()) if n else 0


def read_field(client: Redis, keys: RedisKeys, ids: Sequence[str], name: str) -> dict[str, bytes | None]:
    """One field of many dossiers' hashes, pipelined a thousand at a time."""
    out: dict[str, bytes | None] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        pipe = client.pipeline(transaction=False)
        for did in chunk:
            pipe.hget(keys.dossier(did), name)
        out.update(zip(chunk, pipe.execute(), strict=True))
    return out


def redis_sink_group(settings: Settings) -> str:
    """The Redis sink's consumer group (what to wait on for Redis to have caught up)."""
    return sink_group(settings, RedisStateSink.name)
