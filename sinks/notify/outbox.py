"""The notifier's durable memory, in Redis: what is to be sent, when, and what was sent.

- ``<prefix>notify:notice:<id>``: the notice (JSON), kept after sending as the record of it;
- ``<prefix>notify:pending``: sorted set of notice ids by the time they are due (or retried);
- ``<prefix>notify:sent``: set of the ids sent;
- ``<prefix>notify:attempts``: hash id -> failed attempts so far.

Adding is idempotent (a redelivered alert plans notices with the same ids: a notice already
pending or sent is left alone), so the consumer commits its offsets only after adding, and a crash
loses nothing. A notice leaves ``pending`` for ``sent`` in one transaction after its channel
accepted it; a crash between the two (the channel accepted, the mark not written) sends it again
after the restart: the only way a notice can be doubled, and the message carries the notice id
(email ``Message-ID``, webhook ``notice_id``) for the receiver to recognise it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from redis import Redis

from sinks.notify.messages import Notice

ADD = """
-- KEYS: pending, sent, notice key. ARGV: id, due score, json. Returns 1 if added.
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('SET', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
"""


class Outbox:
    def __init__(self, client: Redis, prefix: str) -> None:
        self.client = client
        self.pending_key = f"{prefix}notify:pending"
        self.sent_key = f"{prefix}notify:sent"
        self.attempts_key = f"{prefix}notify:attempts"
        self.notice_prefix = f"{prefix}notify:notice:"
        self._add = client.register_script(ADD)

    def add(self, notices: Iterable[Notice]) -> int:
        """Queue notices not seen before; how many were new."""
        pipe = self.client.pipeline(transaction=True)
        n = 0
        for notice in notices:
            self._add(keys=[self.pending_key, self.sent_key, self.notice_prefix + notice.id],
                      args=[notice.id, notice.send_at.timestamp(), notice.dumps()], client=pipe)  # fmt: skip
            n += 1
        return sum(int(r) for r in pipe.execute()) if n else 0

    def due(self, now: datetime, limit: int = 500) -> list[Notice]:
        """Notices whose time has come, oldest first."""
        ids = self.client.zrangebyscore(self.pending_key, "-inf", now.timestamp(), start=0, num=limit)
        if not ids:
            return []
        raws = self.client.mget([self.notice_prefix + i.decode() for i in ids])
        return [Notice.loads(raw) for raw in raws if raw is not None]

    def next_due(self) -> float | None:
        first = self.client.zrange(self.pending_key, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    def sent(self, notices: Iterable[Notice]) -> None:
        ids = [n.id for n in notices]
        if ids:
            pipe = self.client.pipeline(transaction=True)
            pipe.sadd(self.sent_key, *ids)
            pipe.zrem(self.pending_key, *ids)
            pipe.hdel(self.attempts_key, *ids)
            pipe.execute()

    def failed(self, notices: Iterable[Notice]) -> int:
        """Count a failed attempt of each; the most attempts of the batch so far."""
        pipe = self.client.pipeline(transaction=True)
        for n in notices:
            pipe.hincrby(self.attempts_key, n.id, 1)
        return max((int(r) for r in pipe.execute()), default=0)

    def retry_at(self, notices: Iterable[Notice], when: datetime) -> None:
        """Kept pending, due again at ``when``."""
        ids: dict[str | bytes, float] = {n.id: when.timestamp() for n in notices}
        if ids:
            self.client.zadd(self.pending_key, ids, xx=True)

    def counts(self) -> tuple[int, int]:
        """(pending, sent)."""
        return int(self.client.zcard(self.pending_key)), int(self.client.scard(self.sent_key))

    def attempts(self, notice_id: str) -> int:
        return int(self.client.hget(self.attempts_key, notice_id) or 0)
