"""The secure profile of docker-compose.yml, live without Docker (docs/security.md).

There is no Docker engine here, so the parts of ``docker-compose.secure.yml`` that do the work
are run as the containers would run them: the broker's start script written by ``dongbo stack
compose-secrets`` (formatting the storage with the admin user, then starting Kafka) runs the real
Kafka, its ``kafka-*.sh`` scripts standing for the image's; ``dongbo stack secure-apply`` runs with
the admin folder's settings, as the setup container does; then each principal's folder is used
the way its container uses it. Only the names differ: the broker listens on loopback as
``localhost`` instead of ``kafka``, and the folders are read where they were written.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from contract.settings import KafkaSettings, Settings, StackSettings, WorkerSettings, settings_env
from contract.topics import topics_for
from dongbo import stack
from dongbo.compose_secure import Broker, write_compose_secrets
from dongbo.stack_secure import ADMIN, source_principal
from tests.integration.conftest import TEST_PARTITIONS
from tests.integration.test_secure_stack import _two_free_ports, consume_error, produce

pytestmark = pytest.mark.integration


def as_container(base: Settings, folder: Path, principal: str) -> Settings:
    """The settings a container of ``principal`` is given in docker-compose.secure.yml."""
    kafka = base.kafka.model_copy(update={
        "security_protocol": "SASL_SSL", "sasl_username": principal,
        "sasl_password_file": folder / f"kafka-{principal}.password", "ssl_ca": folder / "ca.pem",
    })  # fmt: skip
    return base.model_copy(update={"kafka": kafka})


def kafka_scripts(folder: Path, home: Path) -> Path:
    """``kafka-storage.sh`` and ``kafka-server-start.sh`` as the apache/kafka image has them, on the
    local stack's Kafka jars."""
    kafka = stack.Kafka(Settings(stack=StackSettings(home=home)), print)
    libs = kafka.ensure_jars()
    java = (f"exec java -Xmx512m -Xms512m -Dkafka.logs.dir={home} "
            f'-Dlog4j2.configurationFile={stack.LOG4J} -cp "{libs}/*"')  # fmt: skip
    folder.mkdir()
    for name, main in (
        ("kafka-storage.sh", "kafka.tools.StorageTool"),
        ("kafka-server-start.sh", "kafka.Kafka"),
    ):
        script = folder / name
        script.write_text(f'#!/bin/bash\n{java} {main} "$@"\n')
        script.chmod(0o755)
    return folder


@pytest.fixture(scope="module")
def compose_secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Path]]:
    home = tmp_path_factory.mktemp("compose-secure")
    port = _two_free_ports()
    out = home / "secrets" / "compose"
    broker = Broker(
        host="localhost", listen="127.0.0.1", port=port, controller_port=port + 1, data=str(home / "data"),
        seen_at=out / "kafka", scripts=str(kafka_scripts(home / "bin", home / "stack")),
    )  # fmt: skip
    write_compose_secrets(out, TEST_PARTITIONS, print, broker)
    log = (home / "kafka.log").open("w")
    proc = subprocess.Popen(
        ["/bin/bash", str(out / "kafka" / "start.sh")], stdout=log, stderr=subprocess.STDOUT
    )
    base = Settings(
        kafka=KafkaSettings(bootstrap=f"localhost:{port}", partitions=TEST_PARTITIONS),
        worker=WorkerSettings(app_id="dongbo-compose", topic_prefix="compose."),
    )
    try:
        admin = as_container(base, out / ADMIN, ADMIN)
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (home / "kafka.log").read_text()[-3000:]
            try:
                AdminClient({**admin.kafka.client_config(), "socket.timeout.ms": 3000}).list_topics(timeout=5)
                break
            except Exception:  # noqa: BLE001 - not up yet
                assert time.monotonic() < deadline, (home / "kafka.log").read_text()[-3000:]
                time.sleep(1)
        yield base, out
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_the_setup_container_makes_topics_users_and_acls_and_each_folder_does_its_job(
    compose_secure: tuple[Settings, Path],
) -> None:
    base, out = compose_secure
    # The setup container: `dongbo stack secure-apply --secrets /run/dongbo`, as the admin.
    env = {**settings_env(as_container(base, out / ADMIN, ADMIN)), "PATH": os.environ.get("PATH", "/usr/bin")}
    setup = subprocess.run(
        [sys.executable, "-m", "dongbo", "stack", "secure-apply", "--secrets", str(out / ADMIN)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "ACLs" in setup.stdout + setup.stderr
    topics = topics_for(base)
    portal = as_container(base, out / "src-portal", source_principal("portal"))
    assert produce(portal, topics.source("portal")) is None
    err = produce(portal, topics.source("onestop"))
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    worker = as_container(base, out / "worker", "worker")
    assert produce(worker, topics.state) is None
    reader = as_container(base, out / "reader", "reader")
    assert consume_error(reader, topics.state, "downstream-compose") is None
    err = consume_error(reader, topics.source("portal"), "downstream-compose-raw")
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # A folder's password is its principal's only: the worker's does not open the sink's account.
    right = as_container(base, out / "worker", "worker").kafka
    wrong = right.model_copy(update={"sasl_username": "sink"})
    assert AdminClient(right.client_config()).list_topics(timeout=10).topics
    with pytest.raises(KafkaException):  # the broker refuses the login (librdkafka: "transport failure")
        AdminClient({**wrong.client_config(), "socket.timeout.ms": 3000}).list_topics(timeout=5)
