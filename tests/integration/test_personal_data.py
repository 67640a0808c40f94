"""No raw personal data anywhere dongbo writes: after a simulated city with every fault has gone
through the real pipeline, every topic (sources, events, state, conflicts, alerts, dead letters,
changelogs), Redis, the reporting store and the exports (CSV and XLSX) are scanned for the
applicants' identity numbers, names, mobile numbers and addresses, which the simulated source
forms carry as real ones do. Only their keyed pseudonyms may appear."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from openpyxl import load_workbook
from redis import Redis

from contract.settings import Settings
from dongbo.stats import open_store
from dongbo.topic_reader import read_to_end
from producers.privacy import Pseudonymiser
from producers.simulator.workload import applicant, contact
from tests.integration.replay_check import CONFIG
from tests.integration.test_statistics import _run_cli, merged_city

pytestmark = pytest.mark.integration

DOSSIERS = 80


def personal_data(seed: int, pool: int) -> dict[str, str]:
    """Every applicant's raw data the source forms carry: value -> what it is."""
    found: dict[str, str] = {}
    for k in range(pool):
        ident, name = applicant(seed, k)
        phone, address = contact(seed, k)
        found |= {ident: "identity number", name: "name", phone: "mobile number", address: "address"}
    return found


def scan(where: str, data: bytes, secrets: dict[bytes, str]) -> list[str]:
    return [f"{what} {value.decode()!r} in {where}" for value, what in secrets.items() if value in data]


def topic_bytes(settings: Settings) -> Iterator[tuple[str, bytes]]:
    """Every topic of the cluster, each record's key and value."""
    topics = AdminClient(settings.kafka.client_config()).list_topics(timeout=10).topics
    for topic in sorted(t for t in topics if not t.startswith("__")):
        chunks = [(msg.key() or b"") + b"\x00" + (msg.value() or b"") for msg in read_to_end(settings, topic)]
        yield topic, b"\x01".join(chunks)


def redis_bytes(client: Redis) -> Iterator[tuple[str, bytes]]:
    """Every key of the database with its content, read by type (a DUMP may be compressed)."""
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            parts = [client.get(key) or b""]
        elif kind == "hash":
            parts = [b for kv in client.hgetall(key).items() for b in kv]
        elif kind == "set":
            parts = list(client.smembers(key))
        elif kind == "zset":
            parts = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "list":
            parts = client.lrange(key, 0, -1)
        else:
            parts = [repr(client.dump(key)).encode()]
        yield key.decode(errors="replace"), key + b"\x00" + b"\x01".join(parts)


def test_no_raw_personal_data_in_topics_stores_or_exports(settings: Settings, worker, tmp_path: Path) -> None:
    config = replace(CONFIG, dossiers=DOSSIERS)
    merged_city(settings, worker, tmp_path, config)
    for fmt in ("csv", "xlsx"):
        done = _run_cli(settings, "export", "-o", str(tmp_path / f"all.{fmt}"))
        assert done.returncode == 0, done.stderr

    raw = personal_data(config.seed, DOSSIERS)  # the pool is smaller than the dossiers: all covered
    secrets = {value.encode(): what for value, what in raw.items()}
    idents = [v for v, what in raw.items() if what == "identity number"]
    key = Pseudonymiser.from_settings(settings)
    refs = {key.ref(i).encode() for i in idents}

    leaks: list[str] = []
    refs_seen = 0
    topics = 0
    for topic, data in topic_bytes(settings):
        topics += 1
        leaks += scan(f"topic {topic}", data, secrets)
        refs_seen += sum(r in data for r in refs)
    client = Redis.from_url(settings.redis.url)
    keys = 0
    for name, data in redis_bytes(client):
        keys += 1
        leaks += scan(f"Redis key {name}", data, secrets)
    store = open_store(settings)
    try:
        tables = [r[0] for r in store.conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()]  # fmt: skip
        for table in tables:
            rows = store.conn.execute(f'SELECT t::text FROM "{table}" t').fetchall()
            leaks += scan(f"reporting table {table}", "\n".join(r[0] for r in rows).encode(), secrets)
    finally:
        store.conn.close()
    with open(tmp_path / "all.csv", encoding="utf-8-sig", newline="") as fh:
        exported = list(csv.reader(fh))
    leaks += scan("the CSV export", "\n".join(",".join(r) for r in exported).encode(), secrets)
    book = load_workbook(tmp_path / "all.xlsx", read_only=True)
    cells = "\n".join(str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row)
    leaks += scan("the XLSX export", cells.encode(), secrets)

    assert not leaks, "\n".join(leaks[:20])
    # The scan read what it should: the sources' pseudonyms are on the topics, and every store and
    # export had content.
    assert refs_seen > 0 and topics >= 8 and keys > 0 and tables and len(exported) > DOSSIERS // 2
