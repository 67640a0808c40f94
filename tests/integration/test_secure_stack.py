"""The secure profile, live (docs/security.md): a second local stack with ``DONGBO_STACK_SECURE``,
Kafka speaking SASL/SCRAM over TLS with ACLs, Redis with an ACL user. Each principal may do its
job and nothing else; the whole pipeline runs in the production profile with every secret from a
file, and no secret appears in any process's log."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from contract.settings import (
    KafkaSettings,
    PrivacySettings,
    RedisSettings,
    Settings,
    StackSettings,
    WorkerSettings,
    settings_env,
)
from contract.topics import topics_for
from dongbo import stack
from dongbo.lag import wait_caught_up
from dongbo.processes import SINK_READY_MARK, start_sink, start_worker, wait_ready
from dongbo.stack_secure import ADMIN, READER, SINK, WORKER, SecureFiles, settings_as, source_principal
from sinks.redis_sink import keys_for, redis_sink_group
from tests.integration.conftest import TEST_PARTITIONS, _free_port

pytestmark = pytest.mark.integration


def _two_free_ports() -> int:
    """A port whose next one is free too (the broker's controller listener)."""
    for _ in range(50):
        port = _free_port()
        if port < 65000 and not stack.port_open("127.0.0.1", port + 1):
            return port
    raise RuntimeError("no two consecutive free ports")


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("secure-stack")
    tag = f"s{uuid.uuid4().hex[:8]}"
    settings = Settings(
        kafka=KafkaSettings(
            bootstrap=f"127.0.0.1:{_two_free_ports()}", partitions=TEST_PARTITIONS, heap="512m"
        ),
        redis=RedisSettings(url=f"redis://127.0.0.1:{_free_port()}/0"),
        stack=StackSettings(home=home, secure=True),
        worker=WorkerSettings(app_id=f"dongbo-{tag}", topic_prefix=f"{tag}.", data_dir=home / "worker",
                              web_port=_free_port(), sink_web_port=_free_port(), clock="stream"),
    )  # fmt: skip
    try:
        stack.up(settings, print, ["kafka", "redis"])
        yield settings
    finally:
        stack.down(settings, print, ["kafka", "redis"])
        shutil.rmtree(home, ignore_errors=True)


def produce(settings: Settings, topic: str) -> KafkaError | None:
    """One record to ``topic``: the broker's answer (None: accepted)."""
    outcome: list[KafkaError | None] = []
    p = Producer({**settings.kafka.client_config(), "message.timeout.ms": 15000})
    p.produce(topic, key=b"D-1", value=b"x", on_delivery=lambda err, _msg: outcome.append(err))
    p.flush(20)
    assert outcome, "no delivery report"
    return outcome[0]


def consume_error(settings: Settings, topic: str, group: str) -> KafkaError | None:
    """The first error consuming ``topic`` in ``group`` (None: a record was read)."""
    c = Consumer({**settings.kafka.client_config(), "group.id": group, "auto.offset.reset": "earliest"})
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = c.poll(1.0)
            if msg is None:
                continue
            return msg.error()
        raise AssertionError(f"neither a record nor an error from {topic} in 30 s")
    finally:
        c.close()


def test_each_source_writes_its_own_topic_and_no_other(secure: Settings) -> None:
    topics = topics_for(secure)
    portal = settings_as(secure, source_principal("portal"))
    assert produce(portal, topics.source("portal")) is None
    for other in (topics.source("onestop"), topics.events, topics.state):
        err = produce(portal, other)
        assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, (other, err)
    # Nor may the worker write a source's topic (it only reads them).
    err = produce(settings_as(secure, WORKER), topics.source("civil"))
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_a_downstream_reader_reads_the_state_and_nothing_else(secure: Settings) -> None:
    topics = topics_for(secure)
    assert produce(settings_as(secure, WORKER), topics.state) is None
    assert produce(settings_as(secure, source_principal("portal")), topics.source("portal")) is None
    reader = settings_as(secure, READER)
    assert consume_error(reader, topics.state, "downstream-test") is None
    err = consume_error(reader, topics.source("portal"), "downstream-test-raw")
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # Only groups of its own: never the worker's or a sink's (joining them would rebalance them).
    err = consume_error(reader, topics.state, secure.worker.app_id)
    assert err is not None and err.code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    # dongbo's sinks read the state in their own groups, not the raw topics.
    sink = settings_as(secure, SINK)
    err = consume_error(sink, topics.source("portal"), redis_sink_group(secure))
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_a_wrong_password_or_a_plaintext_client_gets_nothing(secure: Settings, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password")
    admin = settings_as(secure, ADMIN)
    bad = admin.model_copy(update={"kafka": admin.kafka.model_copy(update={"sasl_password_file": wrong})})
    for config in (bad.kafka.client_config(), {"bootstrap.servers": secure.kafka.bootstrap}):
        with pytest.raises(KafkaException):
            AdminClient({**config, "socket.timeout.ms": 3000}).list_topics(timeout=5)
    assert len(AdminClient(admin.kafka.client_config()).list_topics(timeout=10).topics) >= 12


def test_redis_takes_dongbo_user_with_its_password_only(secure: Settings) -> None:
    url = secure.redis.url
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(url, socket_timeout=3).set("k", "v")  # the default user is off
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(url, username="dongbo", password="guess", socket_timeout=3).ping()
    client = redis.Redis.from_url(url, socket_timeout=3, **settings_as(secure, SINK).redis.auth())
    assert client.set("secure-test", "ok") and client.get("secure-test") == b"ok"
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.flushall()  # server-wide dangerous commands are not dongbo's
    assert client.info("server")["run_id"]  # but INFO is: the sink notices a restart by it


def test_the_pipeline_runs_in_production_with_secrets_from_files_none_in_a_log(
    secure: Settings, tmp_path: Path
) -> None:
    key = tmp_path / "hmac.key"
    key.write_text(f"city-key-{uuid.uuid4().hex}\n")
    production = secure.model_copy(
        update={"profile": "production", "privacy": PrivacySettings(hmac_key_file=key)}
    )

    def run_as(principal: str) -> Settings:
        return settings_as(production, principal)

    admin_env = {**settings_env(run_as(ADMIN)), "PATH": "/usr/bin:/bin"}
    sim = subprocess.run(
        [sys.executable, "-m", "dongbo", "simulate", "--dossiers", "30", "--days", "2", "--tail-days", "2"],
        env=admin_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert sim.returncode == 0, sim.stderr
    worker_log, sink_log = tmp_path / "worker.log", tmp_path / "sink.log"
    worker = start_worker(run_as(WORKER), worker_log)
    sink = start_sink(run_as(SINK), sink_log)
    try:
        wait_ready(sink, sink_log, mark=SINK_READY_MARK)
        names = topics_for(secure)
        inputs = [names.source(s) for s in ("portal", "onestop", "civil", "land", "business")] + [
            names.events
        ]
        assert wait_caught_up(run_as(WORKER), secure.worker.app_id, inputs, timeout=240) == 0
        close = subprocess.run(
            [sys.executable, "-m", "dongbo", "watermark", "2026-03-10T00:00:00+07:00"],
            env=admin_env, capture_output=True, text=True,  # an operator's tool: reads every group's lag
            timeout=300,
        )  # fmt: skip
        assert close.returncode == 0, close.stderr + close.stdout
        assert wait_caught_up(run_as(SINK), redis_sink_group(secure), [names.state], timeout=240) == 0
    finally:
        for proc in (worker, sink):
            proc.terminate()
            proc.wait(60)
    client = redis.Redis.from_url(secure.redis.url, **run_as(SINK).redis.auth())
    stored = list(client.scan_iter(match=keys_for(secure).dossier("*"), count=1000))
    assert len(stored) >= 25  # the city's dossiers, merged and stored

    files = SecureFiles.of(secure)
    used = [key.read_text().strip(), files.redis_password_file.read_text().strip()]
    used += [files.password(p) for p in (ADMIN, WORKER, SINK)]
    logs = {
        "simulate": sim.stdout + sim.stderr, "watermark": close.stdout + close.stderr,
        "worker": worker_log.read_text(errors="replace"), "sink": sink_log.read_text(errors="replace"),
    }  # fmt: skip
    assert "Ready" in logs["worker"]  # the logs are the processes' real output
    for name, text in logs.items():
        for secret in used:
            assert secret not in text, f"a secret in the {name} log"
