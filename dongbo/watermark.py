"""``dongbo watermark``: tell the merge that stream time has reached a moment on every partition.

With the stream clock (replays, imports, simulations) a partition's time is the latest event time
seen on it, so a partition with no more events never reaches the end of the run: a disagreement
that outlived its tolerance, or a deadline that passed, after its last event would wait for an
event that never comes. Once the replay has been consumed (``wait_caught_up``), one watermark tick
per partition of the ticks topic moves every partition to the end, and those moments fire, in
order, as they would have live. Sent before the replay is consumed, it would overtake records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from contract.settings import Settings
from contract.sources import SOURCE_SYSTEMS
from contract.topics import ensure_topics, topics_for
from dongbo.lag import wait_caught_up
from producers.publisher import Publisher
from sinks.redis_sink import redis_sink_group
from streams.agents.merge import watermark_record


def send_watermark(settings: Settings, until: datetime) -> int:
    """One watermark tick on each partition of the ticks topic; returns how many were sent."""
    if until.tzinfo is None:
        raise ValueError("the watermark needs a UTC offset, e.g. 2026-03-12T00:00:00+07:00")
    ensure_topics(settings)
    names = topics_for(settings)
    with Publisher(settings) as pub:
        for p in range(settings.kafka.partitions):
            pub.send(names.ticks, None, watermark_record(until), partition=p)
    return settings.kafka.partitions


def close_replay(
    settings: Settings,
    until: datetime,
    timeout: float = 600.0,
    progress: Callable[[int], None] | None = None,
) -> int:
    """After a replay: wait until it is consumed, move every partition to ``until``, and wait for
    what that fired to reach the Redis sink. Returns the messages still unprocessed (0 when done);
    ``progress`` is told how many remain while it waits."""
    names = topics_for(settings)
    replay_topics = [names.source(s) for s in SOURCE_SYSTEMS] + [names.events]
    group = settings.worker.app_id
    lag = wait_caught_up(settings, group, replay_topics, timeout=timeout, progress=progress)
    if lag:
        return lag
    send_watermark(settings, until)
    lag = wait_caught_up(settings, group, [names.ticks], timeout=timeout, progress=progress)
    if lag:
        return lag
    # What the worker published has reached Redis (the sink reads in a group of its own).
    return wait_caught_up(
        settings, redis_sink_group(settings), [names.state], timeout=timeout, progress=progress
    )
