"""The secure profile's ACLs as a table (``dongbo.stack_secure.acl_rules``): each principal gets
what its job needs and nothing else. The live test (tests/integration/test_secure_stack.py)
checks the broker enforces them."""

from __future__ import annotations

from pathlib import Path

from contract.settings import Settings, StackSettings
from contract.sources import SOURCE_SYSTEMS
from contract.topics import Topics
from dongbo.stack_secure import (
    READER,
    SINK,
    WORKER,
    Rule,
    SecureFiles,
    acl_rules,
    kafka_properties,
    settings_as,
    source_principal,
)

TOPICS = Topics("t.")
APP = "dongbo-t"
SINK_GROUPS = ("dongbo-t-sink-redis", "dongbo-t-sink-report", "dongbo-t-notify")
RULES = acl_rules(TOPICS, APP, SINK_GROUPS)


def may(principal: str, operation: str, resource: str, name: str) -> bool:
    """What the broker's authorizer would answer for these rules (literal and prefixed patterns)."""

    def matches(r: Rule) -> bool:
        return r.name == name if r.pattern == "literal" else name.startswith(r.name)

    return any(
        r.principal == principal
        and r.resource == resource
        and r.operation in (operation, "ALL")
        and matches(r)
        for r in RULES
    )


def test_a_source_writes_its_own_topic_only() -> None:
    for system in SOURCE_SYSTEMS:
        me = source_principal(system)
        for other in SOURCE_SYSTEMS:
            assert may(me, "WRITE", "topic", TOPICS.source(other)) == (other == system)
        for topic in (TOPICS.events, TOPICS.state, TOPICS.dlq, f"{APP}-dossiers-changelog"):
            assert not may(me, "WRITE", "topic", topic)
            assert not may(me, "READ", "topic", topic)


def test_the_worker_reads_the_sources_and_writes_what_it_produces_only() -> None:
    for system in SOURCE_SYSTEMS:
        assert may(WORKER, "READ", "topic", TOPICS.source(system))
        assert not may(WORKER, "WRITE", "topic", TOPICS.source(system))
    for topic in (TOPICS.events, TOPICS.state, TOPICS.conflicts, TOPICS.deadlines, TOPICS.dlq, TOPICS.ticks):
        assert may(WORKER, "WRITE", "topic", topic)
    assert may(WORKER, "CREATE", "topic", f"{APP}-dossiers-changelog")  # Faust makes its changelog
    assert may(WORKER, "READ", "group", APP)
    assert not any(may(WORKER, "READ", "group", g) for g in SINK_GROUPS)


def test_readers_read_the_state_in_their_own_groups_only() -> None:
    assert may(READER, "READ", "topic", TOPICS.state)
    for topic in [TOPICS.source(s) for s in SOURCE_SYSTEMS] + [TOPICS.events, TOPICS.dlq, TOPICS.conflicts]:
        assert not may(READER, "READ", "topic", topic)
    assert not any(may(READER, "WRITE", "topic", t) for t in TOPICS.all())
    assert may(READER, "READ", "group", "downstream-land-registry")
    assert not may(READER, "READ", "group", APP) and not may(READER, "READ", "group", SINK_GROUPS[0])
    for group in SINK_GROUPS:
        assert may(SINK, "READ", "group", group)
    assert may(SINK, "READ", "topic", TOPICS.state) and may(SINK, "READ", "topic", TOPICS.deadlines)
    assert not may(SINK, "READ", "topic", TOPICS.source("portal"))
    assert not any(may(SINK, "WRITE", "topic", t) for t in TOPICS.all())


def test_nobody_but_the_admin_has_everything() -> None:
    for r in RULES:
        if r.operation == "ALL":  # only the worker, only on its own Faust topics
            assert (r.principal, r.resource, r.pattern, r.name) == (WORKER, "topic", "prefixed", f"{APP}-")


def test_the_broker_has_no_plaintext_listener_and_denies_by_default(tmp_path: Path) -> None:
    settings = Settings(stack=StackSettings(home=tmp_path, secure=True))
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "kafka-admin.password").write_text("pw\n")
    lines = kafka_properties(SecureFiles.of(settings), "127.0.0.1", 9092, 9093)
    props = dict(line.split("=", 1) for line in lines)
    assert props["listeners"] == "SASL_SSL://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert "PLAINTEXT" not in props["listener.security.protocol.map"].replace("SASL_", "")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["listener.name.controller.ssl.client.auth"] == "required"


def test_processes_are_given_the_files_never_the_secrets(tmp_path: Path) -> None:
    settings = settings_as(Settings(stack=StackSettings(home=tmp_path, secure=True)), WORKER)
    assert settings.kafka.sasl_password is None and settings.redis.password is None
    assert settings.kafka.sasl_password_file == tmp_path / "secrets" / "kafka-worker.password"
    assert settings.kafka.ssl_ca == tmp_path / "secrets" / "ca.pem"
