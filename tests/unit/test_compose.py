"""docker-compose.yml cannot run here (no Docker engine): check that it parses and is complete."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from contract.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_names_the_whole_stack():
    services = compose()["services"]
    want = {"kafka", "redis", "prometheus", "alertmanager", "grafana", "worker", "sink", "notify"}
    want |= {"postgres", "sink-report"}
    want.add("simulator")
    assert want <= set(services)


def test_compose_runs_several_workers_in_one_group_and_the_sink_apart():
    services = compose()["services"]
    worker = services["worker"]
    assert worker["deploy"]["replicas"] >= 2
    assert "ports" not in worker  # replicas would collide on one host port
    assert all(not v.startswith("worker-data") for v in worker.get("volumes", []))  # no shared RocksDB
    assert services["sink"]["command"] == ["dongbo", "sink", "redis"]
    assert services["sink"]["environment"] == worker["environment"]
    assert services["sink-report"]["command"] == ["dongbo", "sink", "report"]
    assert services["sink-report"]["environment"] == worker["environment"]
    assert worker["environment"]["DONGBO_REPORT_URL"].startswith("postgresql://dongbo@postgres:")


def test_compose_runs_the_same_kafka_as_the_local_stack_in_kraft_mode():
    kafka = compose()["services"]["kafka"]
    assert kafka["image"].endswith(":" + KafkaSettings().version)
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # topics are created with their partition count


def test_compose_publishes_ports_on_loopback_only():
    for name, svc in compose()["services"].items():
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_files_mounted_by_compose_exist():
    for name, svc in compose()["services"].items():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("./"):
                assert (ROOT / src).exists(), f"{name} mounts missing {src}"


def test_worker_and_simulator_share_the_same_settings():
    services = compose()["services"]
    assert services["worker"]["environment"] == services["simulator"]["environment"]
    assert services["worker"]["environment"]["DONGBO_KAFKA_BOOTSTRAP"] == "kafka:9092"


def test_compose_runs_the_production_profile_with_the_key_from_a_secret_file():
    doc = compose()
    env = doc["services"]["worker"]["environment"]
    assert env["DONGBO_PROFILE"] == "production"  # the development key is refused
    secret = env["DONGBO_PRIVACY_HMAC_KEY_FILE"]
    assert secret.startswith("/run/secrets/")
    name = secret.rsplit("/", 1)[1]
    source = doc["secrets"][name]["file"]
    for service in ("worker", "simulator"):  # the processes that use the key
        assert name in doc["services"][service]["secrets"]
    # The key's file lives outside version control.
    ignored = subprocess.run(["git", "check-ignore", "-q", source], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"{source} is not ignored by git"


def test_every_long_running_dongbo_process_is_restarted_after_a_fail_stop():
    # The worker stops without committing a batch it could not process (exit 70, e.g. records
    # skipped by the consumer) and relies on being started again to read it again.
    services = compose()["services"]
    long_running = {name for name, svc in services.items()
                    if svc.get("command", [None])[0] == "dongbo" and name != "simulator"}  # fmt: skip
    assert long_running == {"worker", "sink", "sink-report", "notify"}
    for name in long_running:
        assert services[name].get("restart") in ("unless-stopped", "always", "on-failure"), name
