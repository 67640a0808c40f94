"""The secure profile of ``docker-compose.yml``: the files each container is given.

``docker-compose.secure.yml`` runs the same stack as the local secure profile
(``dongbo.stack_secure``, docs/security.md): Kafka with SASL/SCRAM over TLS only, ACLs denying by
default, one principal per kind of process, Redis with an ACL user. Here the broker is the
``apache/kafka`` image, so what the local stack does itself (certificates, the broker's properties,
formatting the storage with the admin user, the other users and the ACLs) is split into files made
once on the host (``dongbo stack compose-secrets``) and a setup container run as the admin
(``dongbo stack secure-apply``).

Each container mounts one folder, its own (least privilege): the broker its key, certificate,
properties and start script; Redis its ACL file; each dongbo process its principal's password,
the CA certificate and, when it uses Redis, the Redis password. The folder of principal ``admin``
holds every principal's password: the setup container creates the users with them. The CA's key
and the master copies stay in ``<out>/.master`` and are mounted nowhere.
"""

from __future__ import annotations

import os
import shutil
import uuid
from base64 import urlsafe_b64encode
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dongbo.stack import broker_properties
from dongbo.stack_secure import (
    ADMIN,
    LOOPBACK,
    MECHANISM,
    PRINCIPALS,
    READER,
    SINK,
    WORKER,
    SecureFiles,
    kafka_properties,
    redis_acl,
    write_private,
)

IN_CONTAINER = Path("/run/dongbo")  # where every container sees its own folder
KAFKA_UID = 1000  # the apache/kafka image's user
REDIS_UID = 999  # the redis image's user (its entrypoint drops to it)
DONGBO_UID = 1000  # the dongbo image's user (Dockerfile)

# The dongbo principals that use Redis (the sinks write it, the admin's tools read it).
USES_REDIS = (ADMIN, SINK)


@dataclass(frozen=True)
class Broker:
    """Where the broker runs: its name for clients, the address it listens on, its data folder,
    the folder it sees its files in, and where the Kafka scripts are."""

    host: str = "kafka"
    listen: str = ""  # every address of the container (its own network namespace)
    port: int = 9092
    controller_port: int = 9093
    data: str = "/var/lib/kafka/data"
    seen_at: Path = IN_CONTAINER
    scripts: str = "/opt/kafka/bin"


def write_compose_secrets(
    out: Path, partitions: int, log: Callable[[str], None], broker: Broker = Broker()
) -> list[Path]:
    """Make (once) and lay out the secure profile's files under ``out``: one folder per container
    kind. Idempotent: passwords and certificates are kept; the per-container copies are written
    again. Run as root, each folder is given to the user its container runs as."""
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    master = SecureFiles(out / ".master")
    names = (f"DNS:{broker.host}", *LOOPBACK) if broker.host != "localhost" else LOOPBACK
    master.ensure(log, names)
    cluster = out / ".master" / "cluster.id"
    if not cluster.exists():
        # KRaft wants a 16-byte cluster id in unpadded base64url (what `random-uuid` prints).
        write_private(cluster, urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=") + "\n")
    folders = [_kafka_folder(out / "kafka", master, cluster, partitions, broker)]
    redis = _fresh(out / "redis")
    write_private(redis / "users.acl", redis_acl(master))
    _copy(master.redis_password_file, redis)  # for the health check
    folders.append(redis)
    for principal in PRINCIPALS:
        folder = _fresh(out / principal)
        _copy(master.ca, folder)
        mine = PRINCIPALS if principal == ADMIN else (principal,)
        for p in mine:
            _copy(master.password_file(p), folder)
        if principal in USES_REDIS:
            _copy(master.redis_password_file, folder)
        folders.append(folder)
    if os.geteuid() == 0:
        for folder in folders:
            uid = {"kafka": KAFKA_UID, "redis": REDIS_UID}.get(folder.name, DONGBO_UID)
            for path in (folder, *folder.iterdir()):
                os.chown(path, uid, uid)
    log(f"compose secrets: {len(folders)} folders in {out} (CA key and masters in {out / '.master'})")
    return folders


def _kafka_folder(folder: Path, master: SecureFiles, cluster: Path, partitions: int, broker: Broker) -> Path:
    folder = _fresh(folder)
    for path in (master.broker_pem, master.ca, master.password_file(ADMIN), cluster):
        _copy(path, folder)
    listeners = kafka_properties(
        master, broker.listen, broker.port, broker.controller_port, advertised=broker.host,
        seen_at=broker.seen_at,
    )  # fmt: skip
    props = broker_properties(f"{broker.host}:{broker.controller_port}", listeners, broker.data, partitions)
    write_private(folder / "server.properties", "# written by `dongbo stack compose-secrets`\n"
                  + "\n".join(props) + "\n")  # fmt: skip
    # The broker's health check and an operator's kafka-*.sh tools log in as the admin.
    write_private(folder / "admin.properties", "\n".join([
        "security.protocol=SASL_SSL",
        f"sasl.mechanism={MECHANISM}",
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ADMIN}" password="{master.password(ADMIN)}";',
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={broker.seen_at / master.ca.name}",
    ]) + "\n")  # fmt: skip
    seen = broker.seen_at
    write_private(
        folder / "start.sh",
        f"""#!/bin/bash
# written by `dongbo stack compose-secrets`: the secure profile's broker (docs/security.md).
# The storage is formatted once, with the admin user (the only one that must exist before the
# broker answers; the setup container makes the others and the ACLs).
set -euo pipefail
conf={seen}/server.properties
if [ ! -f {broker.data}/meta.properties ]; then
  {broker.scripts}/kafka-storage.sh format --cluster-id "$(cat {seen}/{cluster.name})" --config "$conf" \\
    --add-scram "{MECHANISM}=[name={ADMIN},password=$(cat {seen}/{master.password_file(ADMIN).name})]"
fi
exec {broker.scripts}/kafka-server-start.sh "$conf"
""",
    )
    return folder


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(mode=0o700)
    return folder


def _copy(path: Path, folder: Path) -> None:
    write_private(folder / path.name, path.read_text())


# What each compose service is, for the overlay and its test: the folder it mounts.
SERVICE_FOLDERS = {
    "kafka": "kafka",
    "redis": "redis",
    "secure-setup": ADMIN,
    "simulator": ADMIN,
    "worker": WORKER,
    "sink": SINK,
    "sink-report": SINK,
    "notify": SINK,
}
DOWNSTREAM = READER  # a downstream system's folder, for whoever deploys one
