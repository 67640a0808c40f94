"""The local stack without Docker: Apache Kafka (KRaft, from Maven Central jars), Redis, PostgreSQL,
Prometheus and Alertmanager (Debian packages).

Each service runs on loopback, keeps its data, log and pid file under ``<stack home>/<service>/``
and is started detached so that it outlives the command that started it. ``up`` is idempotent,
``status`` health-checks, ``down`` stops cleanly (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from contract.settings import PROJECT_ROOT, Settings
from dongbo import stack_secure

POM = PROJECT_ROOT / "stack" / "kafka" / "pom.xml"
LOG4J = PROJECT_ROOT / "stack" / "kafka" / "log4j2.properties"


class StackError(RuntimeError):
    """A problem the operator can fix; the message says how."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    pid: int | None
    address: str
    detail: str


def _split_hostport(hostport: str) -> tuple[str, int]:
    host, _, port = hostport.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); look at its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        return state != "Z"
    except OSError:
        return False


class _Service:
    name = ""
    stop_signal = signal.SIGTERM
    run_as: str | None = None  # a server that refuses to run as root runs as this user

    def __init__(self, settings: Settings, log: Callable[[str], None]) -> None:
        self.settings = settings
        self.log = log
        self.home = settings.stack.home / self.name
        self.pidfile = self.home / f"{self.name}.pid"
        self.logfile = self.home / f"{self.name}.log"

    # -- to implement -------------------------------------------------------------------------
    @property
    def host_port(self) -> tuple[str, int]:
        raise NotImplementedError

    @property
    def address(self) -> str:
        raise NotImplementedError

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Install / configure / format before the first start."""

    def _healthy(self) -> tuple[bool, str]:
        host, port = self.host_port
        return port_open(host, port), "port answers"

    # -- shared lifecycle ---------------------------------------------------------------------
    def _user(self) -> str | None:
        return self.run_as if self.run_as and os.geteuid() == 0 else None

    def _cwd(self) -> Path:
        return self.home

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def status(self) -> ServiceStatus:
        pid = self.pid()
        if pid is None:
            host, port = self.host_port
            busy = port_open(host, port)
            detail = f"not started by dongbo; port {port} is used by another process" if busy else "stopped"
            return ServiceStatus(self.name, False, None, self.address, detail)
        ok, detail = self._healthy()
        return ServiceStatus(self.name, ok, pid, self.address, detail if ok else f"starting: {detail}")

    def up(self, timeout: float = 90.0) -> ServiceStatus:
        if self.pid() is not None:
            st = self.wait_healthy(timeout)
            self.log(f"{self.name}: already running (pid {st.pid}) at {self.address}")
            return st
        host, port = self.host_port
        if port_open(host, port):
            raise StackError(
                f"{self.name}: port {port} on {host} is already taken by a process dongbo did not start. "
                f"Stop it, or point dongbo elsewhere (see README, settings)."
            )
        self.home.mkdir(parents=True, exist_ok=True)
        self._prepare()
        self.log(f"{self.name}: starting, log in {self.logfile}")
        with open(self.logfile, "ab") as out:
            proc = subprocess.Popen(
                self._command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self._cwd(),
                start_new_session=True,  # outlives `dongbo stack up`, not killed by its Ctrl-C
                user=self._user(),
            )
        self.pidfile.write_text(str(proc.pid))
        st = self.wait_healthy(timeout, proc)
        self.log(f"{self.name}: up (pid {st.pid}) at {self.address}")
        return st

    def wait_healthy(self, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> ServiceStatus:
        deadline = time.monotonic() + timeout
        detail = ""
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                tail = self._log_tail()
                raise StackError(f"{self.name} exited with code {proc.returncode}; last log lines:\n{tail}")
            ok, detail = self._healthy()
            if ok:
                return self.status()
            time.sleep(0.3)
        raise StackError(
            f"{self.name} did not become healthy in {timeout:.0f}s ({detail}); see {self.logfile}"
        )

    def down(self, grace: float = 20.0) -> bool:
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        os.kill(pid, self.stop_signal)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and pid_alive(pid):
            time.sleep(0.2)
        if pid_alive(pid):
            self.log(f"{self.name}: did not stop in {grace:.0f}s, killing")
            os.kill(pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)
        self.log(f"{self.name}: stopped")
        return True

    def _log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def broker_properties(controller: str, listeners: list[str], data: str, partitions: int) -> list[str]:
    """A single-node KRaft broker's properties (the local stack's, and the secure compose
    profile's): ``controller`` host:port, the ``listeners`` lines, the data folder."""
    return [
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@{controller}",
        *listeners,
        f"log.dirs={data}",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=12",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=4",
        "group.initial.rebalance.delay.ms=0",
        # dongbo creates every topic itself with the intended partition count: a topic
        # auto-created by a producer would have the wrong count (Faust PartitionsMismatch).
        "auto.create.topics.enable=false",
        f"num.partitions={partitions}",
        "log.retention.hours=168",
        "log.segment.bytes=67108864",
        "num.network.threads=2",
        "num.io.threads=4",
    ]


class Kafka(_Service):
    name = "kafka"

    @property
    def host_port(self) -> tuple[str, int]:
        return _split_hostport(self.settings.kafka.bootstrap.split(",")[0])

    @property
    def address(self) -> str:
        return self.settings.kafka.bootstrap

    @property
    def libs(self) -> Path:
        return self.settings.stack.cache / f"kafka-{self.settings.kafka.version}" / "libs"

    def ensure_jars(self) -> Path:
        marker = self.libs / ".complete"
        if marker.exists():
            return self.libs
        if shutil.which("java") is None:
            raise StackError("Java is missing: install a JDK 17 (apt-get install openjdk-17-jre-headless).")
        if shutil.which("mvn") is None:
            raise StackError("Maven is missing: install it (apt-get install maven) to fetch the Kafka jars.")
        self.log(f"kafka: fetching Apache Kafka {self.settings.kafka.version} jars from Maven Central (once)")
        self.libs.mkdir(parents=True, exist_ok=True)
        cmd = [
            "mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={self.libs}",
            f"-Dkafka.version={self.settings.kafka.version}",
        ]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise StackError(f"Maven could not fetch Kafka:\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
        marker.write_text(self.settings.kafka.version)
        return self.libs

    def _java(self, *args: str, heap: str = "256m") -> list[str]:
        return [
            "java", f"-Xmx{heap}", f"-Xms{heap}" if heap != "256m" else "-Xms64m",
            "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J}", f"-Dkafka.logs.dir={self.home}",
            "-cp", f"{self.libs}/*", *args,
        ]  # fmt: skip

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def secure(self) -> bool:
        return self.settings.stack.secure

    def _prepare(self) -> None:
        self.ensure_jars()
        host, port = self.host_port
        ctrl = port + 1
        data = self.home / "data"
        marker = self.home / "secure-profile"
        if (data / "meta.properties").exists() and self.secure != marker.exists():
            was = "with" if marker.exists() else "without"
            raise StackError(
                f"kafka: the data in {data} was made {was} the secure profile (DONGBO_STACK_SECURE): "
                f"use another DONGBO_STACK_HOME, or remove {self.home} to start afresh"
            )
        files = stack_secure.SecureFiles.of(self.settings)
        if self.secure:
            _ensure_secrets(self)
            listeners = stack_secure.kafka_properties(files, host, port, ctrl)
        else:
            listeners = [
                f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctrl}",
                f"advertised.listeners=PLAINTEXT://{host}:{port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
            ]
        self.properties.write_text(
            "\n".join(
                [
                    "# written by dongbo/stack.py; edit the settings, not this file",
                    *broker_properties(
                        f"{host}:{ctrl}", listeners, str(data), self.settings.kafka.partitions
                    ),
                    "",
                ]
            )
        )
        if not (data / "meta.properties").exists():
            # KRaft wants a 16-byte cluster id in unpadded base64url (what `random-uuid` prints).
            cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            res = subprocess.run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cid,
                    "-c",
                    str(self.properties),
                    *(stack_secure.format_args(files) if self.secure else []),
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if res.returncode != 0:
                raise StackError(f"formatting Kafka storage failed:\n{res.stdout}{res.stderr}")
            if self.secure:
                marker.write_text("SASL/SCRAM over TLS, ACLs (docs/security.md)\n")

    def _command(self) -> list[str]:
        return self._java("kafka.Kafka", str(self.properties), heap=self.settings.kafka.heap)

    def admin_settings(self) -> Settings:
        """The settings the stack itself talks to the broker with (the admin, when secure)."""
        return stack_secure.settings_as(self.settings, stack_secure.ADMIN) if self.secure else self.settings

    def _healthy(self) -> tuple[bool, str]:
        host, port = self.host_port
        if not port_open(host, port):
            return False, "port closed"
        from confluent_kafka.admin import AdminClient

        try:
            md = AdminClient(self.admin_settings().kafka.client_config()).list_topics(timeout=2)
        except Exception as exc:  # noqa: BLE001 - any client error just means "not ready yet"
            return False, f"metadata: {exc}"
        return (len(md.brokers) > 0), f"{len(md.brokers)} broker(s), {len(md.topics)} topic(s)"


def _ensure_secrets(service: _Service) -> None:
    """The secure profile's certificates and passwords (made once, kept)."""
    if shutil.which("openssl") is None:
        raise StackError("openssl is missing: install it (apt-get install openssl) for the secure profile.")
    try:
        stack_secure.SecureFiles.of(service.settings).ensure(service.log)
    except (OSError, RuntimeError) as exc:
        raise StackError(f"{service.name}: could not make the secure profile's secrets: {exc}") from exc


class Redis(_Service):
    name = "redis"

    @property
    def host_port(self) -> tuple[str, int]:
        u = urlparse(self.settings.redis.url)
        return u.hostname or "127.0.0.1", u.port or 6379

    @property
    def address(self) -> str:
        return self.settings.redis.url

    def _binary(self) -> str:
        return _debian_binary(self, ("redis-server",), "redis-server")

    @property
    def acl_file(self) -> Path:
        return self.home / "users.acl"

    def _command(self) -> list[str]:
        host, port = self.host_port
        secure = ["--aclfile", str(self.acl_file)] if self.settings.stack.secure else []
        return [
            self._binary(), "--bind", host, "--port", str(port), "--dir", str(self.home),
            "--daemonize", "no", "--save", "60 1000", "--appendonly", "no", "--protected-mode", "yes",
            *secure,
        ]  # fmt: skip

    def _prepare(self) -> None:
        self._binary()
        if self.settings.stack.secure:
            _ensure_secrets(self)
            acl = stack_secure.redis_acl(stack_secure.SecureFiles.of(self.settings))
            stack_secure.write_private(self.acl_file, acl)

    def _healthy(self) -> tuple[bool, str]:
        import redis

        settings = self.settings
        if settings.stack.secure:
            settings = stack_secure.settings_as(settings, stack_secure.ADMIN)
        try:
            ok = bool(redis.Redis.from_url(self.address, socket_timeout=1, **settings.redis.auth()).ping())
        except redis.RedisError as exc:
            return False, str(exc)
        return ok, "PING answered"


class Postgres(_Service):
    """PostgreSQL from its Debian package: the reporting store (statistics, exports, reconciliation).

    Loopback only, trust authentication for the local user the URL names (the secure profile of the
    reliability work adds passwords). Run as the ``postgres`` system user when started by root, which
    PostgreSQL requires; its data directory is then that user's.
    """

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: a sink's open connection must not hold it up
    run_as = "postgres"

    @property
    def url(self) -> Any:
        return urlparse(self.settings.report.url)

    @property
    def host_port(self) -> tuple[str, int]:
        return self.url.hostname or "127.0.0.1", self.url.port or 5432

    @property
    def address(self) -> str:
        return self.settings.report.url

    @property
    def data(self) -> Path:
        return self.server_home / "data"

    def _cwd(self) -> Path:
        return self.server_home

    @property
    def server_home(self) -> Path:
        """Where the server keeps its data and socket: the stack home, unless the server runs as
        ``postgres`` and cannot reach it (a project checked out under a private home directory);
        then a folder of its own under the system's temporary directory, named after the home."""
        if self._user() is None or _reachable_by_others(self.home):
            return self.home
        tag = hashlib.sha1(str(self.home.resolve()).encode()).hexdigest()[:10]
        return Path(tempfile.gettempdir()) / f"dongbo-postgres-{tag}"

    def _bin(self, name: str) -> str:
        found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
        if found:
            return str(found[-1])
        _debian_binary(self, ("psql",), "postgresql")
        found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
        if not found:
            raise StackError(f"PostgreSQL's {name} is missing: install it (apt-get install postgresql).")
        return str(found[-1])

    def _prepare(self) -> None:
        user = self._user()
        if user:
            self.server_home.mkdir(parents=True, exist_ok=True)
            shutil.chown(self.server_home, user, user)
            if self.server_home != self.home:
                self.log(f"{self.name}: {self.home} is private to its owner; data in {self.server_home}")
        if (self.data / "PG_VERSION").exists():
            return
        self.log(f"{self.name}: creating the database cluster in {self.data}")
        subprocess.run(
            [self._bin("initdb"), "-D", str(self.data), "-U", self.url.username or "dongbo", "-A", "trust",
             "-E", "UTF8", "--locale=C.UTF-8"],
            check=True, capture_output=True, user=user, cwd=self.server_home,
        )  # fmt: skip

    def _command(self) -> list[str]:
        host, port = self.host_port
        return [
            self._bin("postgres"), "-D", str(self.data), "-h", host, "-p", str(port),
            "-k", str(self.server_home), "-c", "max_connections=50", "-c", "shared_buffers=128MB",
            "-c", "work_mem=32MB",
        ]  # fmt: skip

    def _connect(self, dbname: str) -> Any:
        import psycopg

        u = self.url
        return psycopg.connect(
            host=u.hostname or "127.0.0.1", port=u.port or 5432, user=u.username or "dongbo",
            password=u.password, dbname=dbname, connect_timeout=2, autocommit=True,
        )  # fmt: skip

    def _healthy(self) -> tuple[bool, str]:
        import psycopg

        try:
            with self._connect("postgres") as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            return False, str(exc).strip()
        return True, "SELECT 1 answered"

    def up(self, timeout: float = 90.0) -> ServiceStatus:
        st = super().up(timeout)
        dbname = self.url.path.lstrip("/") or "dongbo"
        with self._connect("postgres") as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{dbname}"')
                self.log(f"{self.name}: created database {dbname}")
        return st


MONITORING = PROJECT_ROOT / "monitoring"
RULES = MONITORING / "prometheus" / "rules"


def _reachable_by_others(path: Path) -> bool:
    """Every folder from the root to ``path`` lets other users through (the execute bit)."""
    for folder in [path.resolve(), *path.resolve().parents]:
        if folder.exists() and not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return True


def _debian_binary(svc: _Service, names: tuple[str, ...], package: str) -> str:
    """A server from its Debian package, installed when missing and allowed (root, apt)."""
    for name in names:
        if found := shutil.which(name):
            return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        svc.log(f"{svc.name}: {names[0]} is missing, installing the Debian package {package}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], check=False,
                       env=env, capture_output=True)  # fmt: skip
        for name in names:
            if found := shutil.which(name):
                return found
    raise StackError(f"{names[0]} is missing: install it (apt-get install {package}).")


def _http_ok(url: str) -> tuple[bool, str]:
    from urllib.error import URLError
    from urllib.request import urlopen

    try:
        with urlopen(url, timeout=2) as resp:
            return resp.status == 200, f"{url} answered {resp.status}"
    except (URLError, OSError) as exc:
        return False, f"{url}: {exc}"


class _HttpService(_Service):
    """A service with an HTTP API on ``listen`` (host:port) and a ``/-/ready`` health endpoint."""

    @property
    def listen(self) -> str:
        raise NotImplementedError

    @property
    def host_port(self) -> tuple[str, int]:
        return _split_hostport(self.listen)

    @property
    def address(self) -> str:
        return f"http://{self.listen}"

    def _healthy(self) -> tuple[bool, str]:
        return _http_ok(f"{self.address}/-/ready")


class Prometheus(_HttpService):
    """Prometheus scraping dongbo's processes, with dongbo's alert rules, sending to Alertmanager.

    Targets come from files in ``<home>/targets/`` (file service discovery, re-read on change):
    the stack writes the default worker and sink ports; tests and extra workers add their own."""

    name = "prometheus"

    @property
    def listen(self) -> str:
        return self.settings.monitoring.prometheus

    @property
    def targets(self) -> Path:
        return self.home / "targets"

    @property
    def config(self) -> Path:
        return self.home / "prometheus.yml"

    @property
    def rules(self) -> Path:
        return self.home / "rules"

    def _prepare(self) -> None:
        _debian_binary(self, ("prometheus",), "prometheus")
        self.targets.mkdir(parents=True, exist_ok=True)
        ws = self.settings.worker
        notify = self.settings.notify.web_port
        jobs = (
            ("worker", ws.web_port), ("sink", ws.sink_web_port),
            ("sink-report", self.settings.report.web_port),
            ("notify", notify),
        )  # fmt: skip
        for job, port in jobs:
            if port:
                write_targets(self.targets / f"{job}-default.json", [f"127.0.0.1:{port}"], {"app": ws.app_id})
        write_rules(self.rules, self.settings.monitoring.rule_for)
        self.config.write_text(prometheus_config(self.settings, self.targets, self.rules))

    def _command(self) -> list[str]:
        return [
            _debian_binary(self, ("prometheus",), "prometheus"), f"--config.file={self.config}",
            f"--storage.tsdb.path={self.home / 'data'}",
            f"--web.listen-address={self.settings.monitoring.prometheus}",
            "--web.enable-lifecycle", "--storage.tsdb.retention.time=15d",
        ]  # fmt: skip

    def up(self, timeout: float = 90.0) -> ServiceStatus:
        """Running already: its configuration and rules are written again from the settings and the
        repository's rule files, and reloaded (a `git pull` brings new rules with `dongbo stack up`)."""
        if self.pid() is not None:
            self._prepare()
            from urllib.request import Request, urlopen

            try:
                urlopen(Request(f"{self.address}/-/reload", method="POST"), timeout=10).close()
            except OSError as exc:
                self.log(f"prometheus: could not reload its configuration ({exc}); restart it")
        return super().up(timeout)


class Alertmanager(_HttpService):
    """Alertmanager routing dongbo's alerts to the operations webhook (``monitoring/alertmanager``).
    Clustering is off: it would listen on every interface."""

    name = "alertmanager"

    @property
    def listen(self) -> str:
        return self.settings.monitoring.alertmanager

    @property
    def config(self) -> Path:
        return self.home / "alertmanager.yml"

    def _binary(self) -> str:
        return _debian_binary(self, ("prometheus-alertmanager", "alertmanager"), "prometheus-alertmanager")

    def _prepare(self) -> None:
        self._binary()
        self.config.write_text(alertmanager_config(self.settings))

    def _command(self) -> list[str]:
        return [
            self._binary(), f"--config.file={self.config}", f"--storage.path={self.home / 'data'}",
            f"--web.listen-address={self.settings.monitoring.alertmanager}", "--cluster.listen-address=",
        ]  # fmt: skip


def alertmanager_config(settings: Settings) -> str:
    """monitoring/alertmanager/alertmanager.yml with the settings' mail server, addresses and
    webhook (the file itself names docker-compose's services)."""
    import yaml

    m = settings.monitoring
    doc = yaml.safe_load((MONITORING / "alertmanager" / "alertmanager.yml").read_text())
    doc["global"]["smtp_smarthost"] = m.smtp
    for route in doc["route"].get("routes", []):
        route["group_wait"] = f"{m.alert_group_wait:g}s"
    for receiver in doc["receivers"]:
        for mail in receiver.get("email_configs", []):
            mail["to"] = m.alert_email
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = m.alert_webhook
    return "# written by dongbo/stack.py from the settings; edit those, not this file\n" + yaml.safe_dump(
        doc, sort_keys=False, allow_unicode=True
    )


def write_targets(path: Path, targets: list[str], labels: dict[str, str] | None = None) -> None:
    """A file-discovery target list for Prometheus (written whole, then renamed: never half-read)."""
    import json

    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([{"targets": targets, "labels": labels or {}}]))
    tmp.replace(path)


def write_rules(folder: Path, rule_for: str | None) -> None:
    """dongbo's rule files, as written, or with every ``for`` replaced (``rule_for``: rehearsals)."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yml"):
        old.unlink()
    for source in sorted(RULES.glob("*.yml")):
        doc = yaml.safe_load(source.read_text())
        if rule_for is not None:
            for group in doc["groups"]:
                for rule in group["rules"]:
                    if "for" in rule:
                        rule["for"] = rule_for
        (folder / source.name).write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


def prometheus_config(
    settings: Settings, targets: Path, rules: Path = MONITORING / "prometheus" / "rules"
) -> str:
    """The local stack's Prometheus configuration: loopback targets, dongbo's rule files."""
    import yaml

    interval = f"{settings.monitoring.scrape_interval:g}s"
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(rules / "*.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [settings.monitoring.alertmanager]}]}]
                     },
        "scrape_configs": [
            {"job_name": f"dongbo-{job}", "file_sd_configs": [{"files": [str(targets / f"{job}-*.json")],
                                                               "refresh_interval": "5s"}]}
            for job in ("worker", "sink", "notify", "import")
        ],
    }  # fmt: skip
    return "# written by dongbo/stack.py from the settings; edit those, not this file\n" + yaml.safe_dump(
        config, sort_keys=False
    )


SERVICES: dict[str, type[_Service]] = {
    "kafka": Kafka, "redis": Redis, "postgres": Postgres, "prometheus": Prometheus,
    "alertmanager": Alertmanager,
}  # fmt: skip


def services(
    settings: Settings, log: Callable[[str], None], names: list[str] | None = None
) -> list[_Service]:
    chosen = names or list(SERVICES)
    unknown = [n for n in chosen if n not in SERVICES]
    if unknown:
        raise StackError(f"unknown service(s) {unknown}; known: {', '.join(SERVICES)}")
    return [SERVICES[n](settings, log) for n in chosen]


def up(settings: Settings, log: Callable[[str], None], names: list[str] | None = None) -> list[ServiceStatus]:
    result = [svc.up() for svc in services(settings, log, names)]
    from contract.topics import ensure_topics

    if names is None or "kafka" in names:
        admin = Kafka(settings, log).admin_settings()
        created = ensure_topics(admin)
        if created:
            log(f"kafka: created topics {', '.join(created)}")
        if settings.stack.secure:
            stack_secure.apply_security(admin, stack_secure.SecureFiles.of(settings), log)
    return result


def down(settings: Settings, log: Callable[[str], None], names: list[str] | None = None) -> None:
    for svc in reversed(services(settings, log, names)):
        svc.down()


def status(settings: Settings, names: list[str] | None = None) -> list[ServiceStatus]:
    return [svc.status() for svc in services(settings, lambda _m: None, names)]
