"""An example consumer of ``dossier.state`` for downstream teams (read docs/downstream.md first).

It reads the unified states in a consumer group of its own, keeps the latest state of every
dossier behind a version guard, and commits its offsets only after the records it read have been
processed. Each record is one of:

- **new**: a dossier not seen yet, or a version higher than the one held: keep it;
- **republished**: the version held, published again (dongbo delivers at least once): nothing to do;
- **stale**: a version lower than the one held (e.g. re-published after a worker crash): ignore it.

Run it against a broker::

    python -m sinks.examples.state_consumer --bootstrap 127.0.0.1:9092 --from-beginning

It holds the states in memory, so a restarted run resumes from the group's committed offsets with
none of the states read before. A real consumer writes each new state, with its version, to its
own store (the guard there: write only if the version is higher than the stored one) and commits
the offsets after that write, as ``sinks/runner.py`` and ``sinks/redis_sink.py`` do for Redis.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from schemas import codec
from streams.model import VN_TZ

STATE_SCHEMA = "vn.dongbo.DossierState"

log = logging.getLogger(__name__)


@dataclass
class Counts:
    """What the records read so far were."""

    new: int = 0  # a dossier not seen yet, or a higher version than the one held
    republished: int = 0  # the version held, published again: the same state
    stale: int = 0  # an older version than the one held: ignored
    undecodable: int = 0  # not a DossierState this codec can read: logged and skipped
    tombstones: int = 0  # a record without a value: dongbo writes none (docs/downstream.md)

    @property
    def records(self) -> int:
        return self.new + self.republished + self.stale + self.undecodable + self.tombstones


def consumer_config(bootstrap: str, group: str, from_beginning: bool) -> dict[str, Any]:
    """The confluent-kafka (librdkafka) settings this example needs."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,  # a group of your own: never dongbo's app id or its sinks' groups
        "enable.auto.commit": False,  # committed by hand, after the records are processed
        # Where a group with no committed offsets starts: "earliest" reads the whole compacted
        # topic (the latest state of every dossier); a group with committed offsets resumes.
        "auto.offset.reset": "earliest" if from_beginning else "latest",
        "enable.partition.eof": True,  # tells us when a partition has been read to its end
    }


class StateFollower:
    """Follows ``dossier.state`` through ``consumer`` (built with ``consumer_config``).

    ``latest`` is the latest state of every dossier read (the decoded Avro record), ``counts``
    what the records were. ``on_new`` is called with each new state."""

    def __init__(
        self,
        consumer: Consumer,
        topic: str,
        on_new: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.consumer, self.topic, self.on_new = consumer, topic, on_new
        self.latest: dict[str, dict[str, Any]] = {}
        self.counts = Counts()
        self._assigned: set[int] = set()
        self._at_end: set[int] = set()  # assigned partitions read to their end (nothing since)
        consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                           on_lost=self._on_revoke)  # fmt: skip

    def handle(self, value: bytes | None) -> str:
        """One record's value: keep its state if it is new; returns what it was (a ``Counts`` field)."""
        if value is None:
            self.counts.tombstones += 1
            return "tombstones"
        try:
            state = codec.decode(STATE_SCHEMA, value)
        except codec.DecodeError as exc:
            # Only dongbo writes the topic: a record it cannot read means a schema newer than this
            # program's copy of schemas/ (update it) or a bug. Skipped, so the consumer goes on.
            log.error("undecodable state record skipped: %s", exc)
            self.counts.undecodable += 1
            return "undecodable"
        held = self.latest.get(state["dossier_id"])
        if held is not None and state["version"] == held["version"]:
            self.counts.republished += 1
            return "republished"
        if held is not None and state["version"] < held["version"]:
            self.counts.stale += 1
            return "stale"
        self.latest[state["dossier_id"]] = state
        self.counts.new += 1
        if self.on_new is not None:
            self.on_new(state)
        return "new"

    def poll_once(self, timeout: float = 1.0, max_records: int = 500) -> int:
        """Read up to ``max_records`` records (waiting at most ``timeout`` s), process them, then
        commit the offsets read. Returns how many records were processed."""
        processed = 0
        for msg in self.consumer.consume(num_messages=max_records, timeout=timeout):
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    self._at_end.add(msg.partition() or 0)
                    continue
                raise KafkaException(err)
            self._at_end.discard(msg.partition() or 0)
            self.handle(msg.value())
            processed += 1
        if processed:
            # After processing: a crash before this line reads the records again, which the
            # version guard makes harmless; a commit before processing could lose them.
            try:
                self.consumer.commit(asynchronous=False)
            except KafkaException as exc:
                # A rebalance took the partitions meanwhile: their next owner reads them again.
                log.warning("commit failed (%s); the records may be read again", exc)
        return processed

    def at_end(self) -> bool:
        """Every partition assigned to this consumer has been read to its end (as of the last read)."""
        return bool(self._assigned) and self._assigned <= self._at_end

    def follow(self, max_seconds: float = math.inf, stop_at_end: bool = False) -> Counts:
        """Poll until ``max_seconds`` have passed, or (``stop_at_end``) every assigned partition has
        been read to its end."""
        deadline = time.monotonic() + max_seconds
        while (left := deadline - time.monotonic()) > 0:
            self.poll_once(timeout=min(0.5, left))
            if stop_at_end and self.at_end():
                break
        return self.counts

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.update(tp.partition for tp in partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._assigned.discard(tp.partition)
            self._at_end.discard(tp.partition)


def state_line(state: dict[str, Any]) -> str:
    """One line per new state. Times are UTC on the wire; officials read them in +07:00."""
    updated = state.get("updated_at")
    when = updated.astimezone(VN_TZ).isoformat(timespec="minutes") if updated is not None else "-"
    return (f"{state['dossier_id']}  v{state['version']}  {state.get('status') or '-'}  "
            f"{state.get('outcome') or '-'}  updated {when}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sinks.examples.state_consumer",
        description="Follow dongbo's dossier.state: the latest state of every dossier, version-guarded.",
    )
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="host:port of the Kafka broker(s)")
    parser.add_argument("--topic", default="dossier.state", help="the state topic, with its prefix")
    parser.add_argument(
        "--group",
        default="downstream-example",
        help="this consumer's own group id (downstream-…: docs/security.md)",
    )
    parser.add_argument(
        "--from-beginning", action="store_true",
        help="a group with no committed offsets starts at the earliest record (else at the end)",
    )  # fmt: skip
    parser.add_argument("--max-seconds", type=float, default=math.inf, help="stop after this long")
    parser.add_argument(
        "--stop-at-end", action="store_true", help="stop once every assigned partition is read to its end"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)

    consumer = Consumer(consumer_config(args.bootstrap, args.group, args.from_beginning))
    follower = StateFollower(consumer, args.topic, on_new=lambda state: print(state_line(state), flush=True))
    try:
        follower.follow(max_seconds=args.max_seconds, stop_at_end=args.stop_at_end)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()  # leaves the group at once; the offsets are already committed
    c = follower.counts
    log.info("%d dossiers; records: %d new, %d republished, %d stale, %d undecodable, %d tombstones",
             len(follower.latest), c.new, c.republished, c.stale, c.undecodable, c.tombstones)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
