"""The Faust application: topics, tables and the wiring of agents, built from settings.

Built by a factory rather than at import time so that tests (and several workers on one machine)
can each have their own topics, ports and data folder. Input topics are read as raw bytes and
decoded by our own code, so that bad input reaches the dead-letter topic instead of crashing the
agent (Faust's own deserialiser would restart the agent in a loop).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import ssl
from pathlib import Path
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from contract.settings import KafkaSettings, Settings, refuse_development_secrets
from contract.topics import PRODUCER_REQUEST_MAX, ensure_topics, topics_for
from monitoring.metrics import DongboMetrics
from streams.agents.context import DongboApp
from streams.agents.fetched import keep_fetched_records
from streams.agents.merge import install as install_merge
from streams.agents.normalise import install as install_normalise
from streams.agents.offsets import refuse_gap_commits

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> DongboApp:
    """The worker's Faust app: normalise and merge. The sinks run in processes and consumer groups
    of their own (``sinks.runner``, ``dongbo sink``), so a slow sink never slows the merge."""
    ws = settings.worker
    web: dict[str, Any] = (
        {"web_enabled": True, "web_port": ws.web_port, "web_bind": ws.web_bind, "web_host": ws.web_bind}
        if ws.web_port
        else {"web_enabled": False}
    )
    refuse_gap_commits()  # before any consumer exists (streams.agents.offsets)
    keep_fetched_records()  # streams.agents.fetched
    app = faust.App(
        ws.app_id,
        broker=f"kafka://{settings.kafka.bootstrap}",
        broker_credentials=broker_credentials(settings.kafka),
        store="rocksdb://",
        datadir=str(ws.data_dir),
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication,
        # At-least-once delivery + idempotent state (event ids) instead of Kafka transactions:
        # a redelivered event is recognised and not applied twice.
        processing_guarantee="at_least_once",
        broker_commit_every=500,
        broker_commit_interval=1.0,
        # A killed worker's partitions move to a live one after this long without heartbeats.
        broker_session_timeout=ws.session_timeout,
        broker_heartbeat_interval=max(1.0, ws.session_timeout / 5),
        table_cleanup_interval=30.0,
        # A rebalance waits until the batch in hand is merged, its outputs acknowledged and its
        # table writes sent: otherwise the partition's new owner could recover the table before
        # those writes reach the changelog, and merge the same events again from an older state.
        stream_wait_empty=True,
        consumer_auto_offset_reset="earliest",
        # Tables and topics hold bytes that our codec reads and writes (see module doc).
        key_serializer="raw",
        value_serializer="raw",
        producer_linger_ms=5,
        # A dead letter carries its raw record whole: requests as large as the DLQ topic takes.
        producer_max_request_size=PRODUCER_REQUEST_MAX,
        # Faust's own version resets changelogs when bumped: only on purpose.
        version=1,
        **web,
    )
    registry = CollectorRegistry()
    dapp = DongboApp(
        settings=settings,
        app=app,
        names=topics_for(settings),
        registry=registry,
        metrics=DongboMetrics.create(registry),
    )
    if ws.web_port:
        from faust.sensors.prometheus import setup_prometheus_sensors

        setup_prometheus_sensors(app, pattern="/metrics", registry=registry, name_prefix="faust")

    install_normalise(dapp)
    install_merge(dapp)
    return dapp


def broker_credentials(kafka: KafkaSettings) -> faust.SASLCredentials | None:
    """The worker's SASL/SCRAM login over TLS in the secure profile (docs/security.md); None on a
    plaintext broker."""
    if kafka.security_protocol != "SASL_SSL":
        return None
    kafka.client_config()  # the same checks, the same message, as every other client
    context = ssl.create_default_context(cafile=str(kafka.ssl_ca) if kafka.ssl_ca else None)
    return faust.SASLCredentials(
        username=kafka.sasl_username, password=kafka.password(), ssl_context=context,
        mechanism=kafka.sasl_mechanism,
    )  # fmt: skip


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    """Run a worker in this process until it is stopped (SIGTERM / Ctrl-C). Refuses the built-in
    development secrets outside the development profile (``InsecureSettings``)."""
    limit_malloc_arenas()
    refuse_development_secrets(settings, "the worker")
    ensure_topics(settings)
    dapp = build_app(settings)
    if settings.profile == "development":

        @dapp.app.task
        async def say_profile() -> None:  # logged once the worker's logging is set up
            log.warning("development profile: the built-in development secrets are accepted (DONGBO_PROFILE)")

    discard_local_tables(dapp.app)
    worker = faust.Worker(dapp.app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()


# glibc gives each thread that allocates its own malloc arena (up to 8 per core), and an arena
# keeps what its thread freed. RocksDB's flush and compaction threads allocate and free large
# buffers; capping the arenas bounds that fragmentation. Measured at a million dossiers it saved
# little (~400 -> ~360 MiB in RocksDB's threads: mostly real use, docs/benchmarks.md), but it costs
# nothing with one Python thread doing the work.
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas (``MALLOC_ARENAS``), before RocksDB starts its threads. An
    operator's own ``MALLOC_ARENA_MAX`` is left alone; without glibc (musl), nothing is done."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        done = libc is not None and libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS) == 1
    except (OSError, AttributeError):
        done = False
    if not done:
        log.info("malloc arenas not capped (no glibc mallopt): memory may grow with RocksDB's threads")


def discard_local_tables(app: faust.App) -> None:
    """The tables are recovered from their changelogs alone, never from a previous run's local store.

    Faust's RocksDB store takes a write at once, before its changelog record is acknowledged, and
    keeps it across a crash; the offsets of the events behind it are only committed once the
    changelog has it. So a killed worker's store can hold states the changelog never got: the
    restarted worker finds their redelivered events already applied and writes nothing, the
    changelog never learns them, and the next owner of the partition (a worker on a fresh disk,
    or after a rebalance) resumes from older states while the offsets have moved on: conflicts
    and alerts evaluated again, at other moments. The changelog is what offsets are committed
    against, so it is the only copy a worker starts from (docs/guarantees.md#crashes). The cost is
    a full changelog read at every start (docs/benchmarks.md)."""
    tables = Path(app.conf.tabledir)
    if tables.exists():
        log.info("local table store %s discarded: the tables are recovered from their changelogs", tables)
        shutil.rmtree(tables)
