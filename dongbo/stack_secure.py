"""The local stack's secure profile (``DONGBO_STACK_SECURE=true``, docs/security.md).

Kafka speaks SASL/SCRAM over TLS only (a CA and the broker's certificate made here with
``openssl``; the controller listener takes the broker's own certificate, mutual TLS), every
principal has its own password, and ACLs give each one what its job needs and nothing else:
a source system writes its own raw topic, the worker reads the sources and writes what it
produces, dongbo's sinks read the unified state and the alerts, a downstream consumer reads
``dossier.state`` in groups named ``downstream-…``. Redis takes an ACL user with a password, its
default user off.

The secrets live in ``<stack home>/secrets/`` (mode 0700, each file 0600), are made once and
kept; the processes are given the files' paths (``dongbo stack env --as NAME``), never the secrets.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.settings import Settings
from contract.sources import SOURCE_SYSTEMS
from contract.topics import Topics, topics_for

MECHANISM = "SCRAM-SHA-512"
ADMIN = "admin"  # the stack itself: topics, users, ACLs (a super user)
WORKER = "worker"
SINK = "sink"  # dongbo's Redis and reporting sinks, the notifier, `dongbo stats`
READER = "reader"  # a downstream system
DOWNSTREAM_GROUPS = "downstream-"  # the group ids a downstream reader may use (prefix)
BROKER_CN = "dongbo-broker"  # the broker's certificate: its principal on the controller listener
REDIS_USER = "dongbo"
# The names the broker's certificate is valid for on the local stack: loopback only.
LOOPBACK = ("IP:127.0.0.1", "IP:::1", "DNS:localhost")


def source_principal(system: str) -> str:
    return f"src-{system}"


PRINCIPALS = (ADMIN, WORKER, SINK, READER, *(source_principal(s) for s in SOURCE_SYSTEMS))


@dataclass(frozen=True)
class Rule:
    """One ACL: ``principal`` may ``operation`` on the ``resource`` named ``name`` (``pattern``:
    literal, or prefixed: every name that starts with it)."""

    principal: str
    operation: str  # READ, WRITE, DESCRIBE, CREATE, ALL, ...
    resource: str  # topic, group
    name: str
    pattern: str = "literal"


def acl_rules(topics: Topics, app_id: str, sink_groups: tuple[str, ...]) -> list[Rule]:
    """Every ACL of the secure profile: pure, so it can be read and tested as a table."""
    rules: list[Rule] = []

    def grant(who: str, ops: tuple[str, ...], resource: str, name: str, pattern: str = "literal") -> None:
        rules.extend(Rule(who, op, resource, name, pattern) for op in ops)

    sources = [topics.source(s) for s in SOURCE_SYSTEMS]
    for system, topic in zip(SOURCE_SYSTEMS, sources, strict=True):
        grant(source_principal(system), ("WRITE", "DESCRIBE"), "topic", topic)
    # The worker: reads every source, writes the canonical events and reads them back (normalise
    # then merge), writes the state, conflicts, alerts, dead letters and its stream-time ticks.
    for topic in sources:
        grant(WORKER, ("READ", "DESCRIBE"), "topic", topic)
    for topic in (topics.events, topics.ticks):
        grant(WORKER, ("READ", "WRITE", "DESCRIBE"), "topic", topic)
    for topic in (topics.state, topics.conflicts, topics.deadlines, topics.dlq):
        grant(WORKER, ("WRITE", "DESCRIBE"), "topic", topic)
    # Faust's own topics (the table's changelog, the partition assignor's) are named after the
    # app and created by the worker.
    grant(WORKER, ("ALL",), "topic", f"{app_id}-", "prefixed")
    grant(WORKER, ("READ", "DESCRIBE"), "group", app_id)
    # dongbo's sinks: the unified state and the alerts, each sink in its own group.
    for topic in (topics.state, topics.deadlines):
        grant(SINK, ("READ", "DESCRIBE"), "topic", topic)
    for group in sink_groups:
        grant(SINK, ("READ", "DESCRIBE"), "group", group)
    # Downstream: the unified state only, in groups of their own (never dongbo's).
    grant(READER, ("READ", "DESCRIBE"), "topic", topics.state)
    grant(READER, ("READ", "DESCRIBE"), "group", DOWNSTREAM_GROUPS, "prefixed")
    return rules


def sink_groups(settings: Settings) -> tuple[str, ...]:
    from sinks.notify.runner import notify_group
    from sinks.runner import sink_group

    return (sink_group(settings, "redis"), sink_group(settings, "report"), notify_group(settings))


# -- secrets ---------------------------------------------------------------------------------


class SecureFiles:
    """Where the secure profile keeps its certificates and passwords."""

    def __init__(self, folder: Path) -> None:
        self.dir = folder

    @classmethod
    def of(cls, settings: Settings) -> SecureFiles:
        """The local stack's: ``<stack home>/secrets``."""
        return cls(settings.stack.home / "secrets")

    @property
    def ca(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def broker_pem(self) -> Path:
        """The broker's private key and certificate chain, one PEM file (Kafka's PEM keystore)."""
        return self.dir / "broker.pem"

    def password_file(self, principal: str) -> Path:
        return self.dir / f"kafka-{principal}.password"

    @property
    def redis_password_file(self) -> Path:
        return self.dir / f"redis-{REDIS_USER}.password"

    def password(self, principal: str) -> str:
        return self.password_file(principal).read_text().strip()

    def ensure(self, log: Callable[[str], None], names: tuple[str, ...] = LOOPBACK) -> None:
        """Certificates and passwords, made once (kept across restarts: the broker's users are
        stored with the passwords they were made with). ``names``: the broker's certificate's."""
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        for path in [self.password_file(p) for p in PRINCIPALS] + [self.redis_password_file]:
            if not path.exists():
                write_private(path, secrets.token_urlsafe(24) + "\n")
        if not self.broker_pem.exists():
            log("kafka: making the secure profile's CA and broker certificate (openssl)")
            make_certificates(self.dir, names)


def write_private(path: Path, text: str) -> None:
    """A file only its owner can read, created so (never world-readable, even for an instant)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def make_certificates(folder: Path, names: tuple[str, ...] = LOOPBACK) -> None:
    """A CA, and the broker's key and certificate for ``names`` (subject alternative names)
    signed by it, for server and client use (the controller listener is mutual TLS)."""

    def run(*args: str) -> None:
        done = subprocess.run(["openssl", *args], cwd=folder, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()[-800:]}")

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "825", "-subj", "/CN=dongbo local stack CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr",
        "-subj", f"/CN={BROKER_CN}")  # fmt: skip
    (folder / "broker.ext").write_text(
        f"subjectAltName={','.join(names)}\n"
        "extendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n"
    )
    run("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "broker.crt", "-days", "825", "-extfile", "broker.ext")  # fmt: skip
    pem = (
        (folder / "broker.key").read_text()
        + (folder / "broker.crt").read_text()
        + (folder / "ca.pem").read_text()
    )
    write_private(folder / "broker.pem", pem)
    for name in ("ca.key", "broker.key"):
        os.chmod(folder / name, 0o600)


# -- what the processes are given ------------------------------------------------------------


def settings_as(settings: Settings, principal: str) -> Settings:
    """``settings`` logging in to the secure stack as ``principal`` (Kafka), and as dongbo's
    Redis user: the files' paths, never the secrets."""
    files = SecureFiles.of(settings)
    kafka = settings.kafka.model_copy(update={
        "security_protocol": "SASL_SSL", "sasl_mechanism": MECHANISM, "sasl_username": principal,
        "sasl_password": None, "sasl_password_file": files.password_file(principal), "ssl_ca": files.ca,
    })  # fmt: skip
    redis = settings.redis.model_copy(update={
        "username": REDIS_USER, "password": None, "password_file": files.redis_password_file,
    })  # fmt: skip
    return settings.model_copy(update={"kafka": kafka, "redis": redis})


def kafka_properties(
    files: SecureFiles,
    host: str,
    port: int,
    ctrl: int,
    *,
    advertised: str | None = None,
    seen_at: Path | None = None,
) -> list[str]:
    """The broker's listener, TLS, SASL and authorizer settings in the secure profile: listening on
    ``host``, known to clients as ``advertised`` (default ``host``), its certificate and the CA
    read from ``seen_at`` (default: where ``files`` keeps them; a container sees them elsewhere)."""
    admin = files.password(ADMIN)
    folder = seen_at if seen_at is not None else files.dir
    return [
        f"listeners=SASL_SSL://{host}:{port},CONTROLLER://{host}:{ctrl}",
        f"advertised.listeners=SASL_SSL://{advertised or host}:{port}",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=CONTROLLER:SSL,SASL_SSL:SASL_SSL",
        "inter.broker.listener.name=SASL_SSL",
        f"sasl.enabled.mechanisms={MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
        f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config="
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ADMIN}" password="{admin}";',
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={folder / files.broker_pem.name}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={folder / files.ca.name}",
        # The controller listener: the broker's own certificate, nobody else's (mutual TLS).
        "listener.name.controller.ssl.client.auth=required",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        f"super.users=User:{ADMIN};User:CN={BROKER_CN}",
    ]


def format_args(files: SecureFiles) -> list[str]:
    """``kafka-storage format`` arguments that create the admin user with the storage (the only
    user that must exist before the broker answers: it makes the others)."""
    admin = files.password(ADMIN)
    return ["--add-scram", f"{MECHANISM}=[name={ADMIN},password={admin}]"]


def apply_security(settings: Settings, files: SecureFiles, log: Callable[[str], None]) -> None:
    """Logged in as the admin (``settings``): every principal's SCRAM credentials (their
    passwords from ``files``), and the ACLs (``acl_rules``). Idempotent."""
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient(settings.kafka.client_config())
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    upserts: list[Any] = [
        UserScramCredentialUpsertion(p, info, files.password(p).encode()) for p in PRINCIPALS
    ]
    for fut in admin.alter_user_scram_credentials(upserts).values():
        fut.result(timeout=30)
    rules = acl_rules(topics_for(settings), settings.worker.app_id, sink_groups(settings))
    bindings: list[Any] = [
        AclBinding(
            ResourceType[r.resource.upper()],
            r.name,
            ResourcePatternType[r.pattern.upper()],
            f"User:{r.principal}",
            "*",
            AclOperation[r.operation],
            AclPermissionType.ALLOW,
        )
        for r in rules
    ]
    for fut in admin.create_acls(bindings).values():
        fut.result(timeout=30)
    log(f"kafka: secure profile: {len(PRINCIPALS)} principals, {len(rules)} ACLs (docs/security.md)")


def redis_acl(files: SecureFiles) -> str:
    """Redis's ACL file: the default user off, dongbo's user with its password and every command
    but the server-wide dangerous ones (FLUSHALL, CONFIG, DEBUG, SHUTDOWN, ...); INFO, read-only,
    is allowed back (the Redis sink reads the server's run id to notice a restart)."""
    password = files.redis_password_file.read_text().strip()
    return f"user default off\nuser {REDIS_USER} on >{password} ~* &* +@all -@dangerous +info\n"
