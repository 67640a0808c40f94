"""docker-compose.yml cannot run here (no Docker engine): check that it parses and is complete."""

from __future__ import annotations

import re
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


# -- the secure profile (docker-compose.secure.yml, dongbo/compose_secure.py) --------------------


def secure_overlay() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.secure.yml").read_text())


def test_the_secure_overlay_adds_to_the_services_compose_has(tmp_path: Path):
    base, overlay = compose()["services"], secure_overlay()["services"]
    assert set(overlay) - set(base) == {"secure-setup"}
    for name in ("worker", "sink", "sink-report", "notify"):  # nothing starts before the ACLs exist
        assert overlay[name]["depends_on"]["secure-setup"] == {"condition": "service_completed_successfully"}


def test_each_secure_container_mounts_its_own_folder_holding_every_file_its_settings_name(tmp_path: Path):
    from dongbo.compose_secure import IN_CONTAINER, SERVICE_FOLDERS, write_compose_secrets

    out = tmp_path / "secrets" / "compose"
    write_compose_secrets(out, 12, lambda _m: None)
    for name, svc in secure_overlay()["services"].items():
        (mount,) = svc["volumes"]
        src, target, mode = mount.split(":")
        assert (src, target, mode) == (f"./secrets/compose/{SERVICE_FOLDERS[name]}", str(IN_CONTAINER), "ro")
        folder = out / SERVICE_FOLDERS[name]
        env = svc.get("environment", {})
        for key, value in env.items():
            # Settings name files; a secret itself is never in the environment.
            assert not key.endswith("_PASSWORD") and "KEY" not in key, key
            if str(value).startswith(str(IN_CONTAINER)):
                assert (folder / Path(value).name).is_file(), f"{name}: {key}={value} is not in {folder}"
        text = " ".join(
            map(str, [svc.get("entrypoint", ""), svc.get("command", ""), svc.get("healthcheck", "")])
        )
        for path in re.findall(r"/run/dongbo/([\w.-]+)", text):
            assert (folder / path).is_file(), f"{name} uses {path}, not in {folder}"


def test_secrets_are_laid_out_least_privilege_and_private(tmp_path: Path):
    from dongbo.compose_secure import write_compose_secrets
    from dongbo.stack_secure import PRINCIPALS

    out = tmp_path / "compose"
    write_compose_secrets(out, 12, lambda _m: None)
    first = {p: (out / ".master" / f"kafka-{p}.password").read_text() for p in PRINCIPALS}
    write_compose_secrets(out, 12, lambda _m: None)  # again: the passwords are kept
    assert first == {p: (out / ".master" / f"kafka-{p}.password").read_text() for p in PRINCIPALS}
    files = {f.parent.name: set() for f in out.glob("*/*")}
    for f in out.glob("*/*"):
        files[f.parent.name].add(f.name)
        # Every folder is its owner's only; in .master, the certificates' public parts may be read.
        assert f.parent.stat().st_mode & 0o077 == 0, f"{f.parent} is open to others"
        if f.parent.name != ".master" or f.suffix in (".password", ".key", ".id") or f.name == "broker.pem":
            assert f.stat().st_mode & 0o077 == 0, f"{f} is readable by others"
    assert files["worker"] == {"ca.pem", "kafka-worker.password"}
    assert files["sink"] == {"ca.pem", "kafka-sink.password", "redis-dongbo.password"}
    assert files["src-portal"] == {"ca.pem", "kafka-src-portal.password"}
    assert files["redis"] == {"users.acl", "redis-dongbo.password"}
    assert {f"kafka-{p}.password" for p in PRINCIPALS} <= files["admin"]  # it makes the users
    holders = {folder for folder, names in files.items() if "kafka-admin.password" in names}
    assert holders == {".master", "admin", "kafka"}
    assert [folder for folder, names in files.items() if "ca.key" in names] == [".master"]
    props = (out / "kafka" / "server.properties").read_text()
    assert "advertised.listeners=SASL_SSL://kafka:9092" in props
    assert "controller.quorum.voters=1@kafka:9093" in props
    assert "ssl.keystore.location=/run/dongbo/broker.pem" in props
    assert "PLAINTEXT" not in props.replace("SASL_", "")
    cert = subprocess.run(
        ["openssl", "x509", "-noout", "-ext", "subjectAltName"],
        input=(out / ".master" / "broker.pem").read_text().split("-----END PRIVATE KEY-----")[1],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "DNS:kafka" in cert and "IP Address:127.0.0.1" in cert


def test_the_image_holds_every_package_dongbo_installs():
    """The Dockerfile copies each package pyproject.toml installs (one missing: every command fails)."""
    import tomllib

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    copied = re.findall(r"^COPY (\S+) \1$", (ROOT / "Dockerfile").read_text(), re.M)
    assert {p.rstrip("*") for p in include["include"]} <= set(copied)
