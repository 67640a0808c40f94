"""The real WABO permit log (../shared/data/wabo-receipt, CoSeLoG, 4TU.ResearchData 2014) imported
end to end through the real broker: 1,434 dossiers with units, channels and dates, and a second
import of the same file changes nothing downstream."""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

import pytest
from redis import Redis

from contract.sources import SOURCE_SYSTEMS
from contract.topics import topics_for
from dongbo.lag import wait_caught_up
from producers.importers.mapping import load_mapping
from producers.importers.pipeline import ImportJob, import_to_kafka
from sinks.redis_sink import keys_for, redis_sink_group
from tests.integration.kafka_util import wait_for

pytestmark = pytest.mark.integration

SHARED = Path(os.environ.get("DONGBO_SHARED_DATA") or Path(__file__).parents[2].parent / "shared" / "data")
CSV_PATH = SHARED / "wabo-receipt" / "receipt.csv"


def recount() -> Counter[str]:
    """Cases per channel, straight from the raw file."""
    cases: dict[str, str] = {}
    with open(CSV_PATH, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            cases[row["case:concept:name"]] = row["case:channel"]
    return Counter(cases.values())


def test_wabo_log_imports_once_whatever_the_number_of_imports(settings, worker):
    assert CSV_PATH.is_file(), f"the WABO log is missing at {CSV_PATH}: set DONGBO_SHARED_DATA"
    worker()
    names = topics_for(settings)
    job = ImportJob(path=CSV_PATH, fmt="csv", mapping=load_mapping("wabo-receipt"))
    report = import_to_kafka(job, settings)
    assert len(report.dossiers) == 1434
    redis = Redis.from_url(settings.redis.url, decode_responses=True)
    keys = keys_for(settings)
    wait_for(
        lambda: int(redis.hget(keys.stats, "all") or 0) == 1434, timeout=240, what="1,434 dossiers in Redis"
    )
    group_topics = [names.source(s) for s in SOURCE_SYSTEMS] + [names.events]

    def caught_up() -> bool:  # the worker, then the Redis sink's own group behind it
        return (
            wait_caught_up(settings, settings.worker.app_id, group_topics, timeout=240) == 0
            and wait_caught_up(settings, redis_sink_group(settings), [names.state], timeout=240) == 0
        )

    assert caught_up()
    before = {k: v for k, v in redis.hgetall(keys.stats).items()}
    versions = {d: redis.hget(keys.dossier(d), "version") for d in redis.smembers(keys.members("all"))}

    # Channels as the raw file says (Internet and e-mail are online; Desk and Intern the counter).
    raw = recount()
    assert int(before["channel=ONLINE"]) == raw["Internet"] + raw["e-mail"]
    assert int(before["channel=POSTAL"]) == raw["Post"]
    assert int(before["channel=COUNTER"]) == raw["Desk"] + raw["Intern"]
    # Every dossier has its unit and its dates.
    sample = redis.hget(keys.dossier("WABO-case-10011"), "json")
    assert sample and '"unit_code":"WABO-GENERAL"' in sample and '"submitted_at":"2011-10-11' in sample

    # The same file again: every event id is known, nothing changes downstream.
    report2 = import_to_kafka(
        ImportJob(path=CSV_PATH, fmt="csv", mapping=load_mapping("wabo-receipt")), settings
    )
    assert report2.events == report.events
    assert caught_up()
    assert redis.hgetall(keys.stats) == before
    assert {d: redis.hget(keys.dossier(d), "version") for d in versions} == versions
