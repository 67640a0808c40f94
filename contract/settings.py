"""Typed settings, one class per external system, read from ``DONGBO_*`` environment variables.

Everything that differs between a laptop, CI and production is a setting here, never a constant
buried in code, including every *(policy)* choice of the domain rules (``DomainSettings``). This
is the only module that reads the environment; the rules are handed policy objects built from it
(``streams.configured``).
"""

from __future__ import annotations

from datetime import datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypedDict

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contract.sources import LIVE_SYSTEMS

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DONGBO_KAFKA_", extra="ignore")

    bootstrap: str = Field("127.0.0.1:9092", description="host:port of the Kafka broker(s)")
    partitions: int = Field(12, description="partition count of every dongbo topic")
    replication: int = Field(1, description="replication factor of every dongbo topic")
    version: str = Field("4.0.2", description="Apache Kafka version run by the local stack")
    heap: str = Field("512m", description="broker JVM heap (-Xmx) in the local stack")
    # The secure profile (docs/security.md): SASL/SCRAM over TLS, one principal per process kind.
    security_protocol: Literal["PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="PLAINTEXT (development) or SASL_SSL (SCRAM over TLS)"
    )
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = Field("SCRAM-SHA-512", description="SCRAM")
    sasl_username: str | None = Field(None, description="this process's Kafka principal (SASL_SSL)")
    sasl_password: SecretStr | None = Field(None, description="its password (prefer the file)")
    sasl_password_file: Path | None = Field(None, description="file holding the password; wins")
    ssl_ca: Path | None = Field(
        None, description="CA certificate (PEM) the broker's certificate is checked against"
    )

    def password(self) -> str | None:
        return _secret(self.sasl_password, self.sasl_password_file, "DONGBO_KAFKA_SASL_PASSWORD_FILE")

    def client_config(self) -> dict[str, str | int | float | bool]:
        """librdkafka keys shared by every confluent-kafka client."""
        config: dict[str, str | int | float | bool] = {"bootstrap.servers": self.bootstrap}
        if self.security_protocol == "SASL_SSL":
            password = self.password()
            if not self.sasl_username or password is None:
                raise InsecureSettings(
                    "DONGBO_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs DONGBO_KAFKA_SASL_USERNAME and "
                    "DONGBO_KAFKA_SASL_PASSWORD_FILE (or _PASSWORD): `dongbo stack env --as NAME` prints them"
                )
            config |= {
                "security.protocol": "SASL_SSL",
                "sasl.mechanisms": self.sasl_mechanism,
                "sasl.username": self.sasl_username,
                "sasl.password": password,
            }
            if self.ssl_ca is not None:
                config["ssl.ca.location"] = str(self.ssl_ca)
        return config


class RedisAuth(TypedDict, total=False):
    username: str
    password: str


class RedisSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DONGBO_REDIS_", extra="ignore")

    url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL used by the sinks and lookups")
    username: str | None = Field(None, description="Redis ACL user, when the URL has none")
    password: SecretStr | None = Field(None, description="Redis password, when the URL has none")
    password_file: Path | None = Field(None, description="file holding the Redis password; wins")

    def auth(self) -> RedisAuth:
        """``Redis.from_url(url, **auth())``: the ACL user and password the settings give."""
        out: RedisAuth = {}
        if self.username:
            out["username"] = self.username
        password = _secret(self.password, self.password_file, "DONGBO_REDIS_PASSWORD_FILE")
        if password is not None:
            out["password"] = password
        return out


def _secret(value: SecretStr | None, path: Path | None, setting: str) -> str | None:
    """A secret from its file (surrounding blanks dropped) when one is set, else the value."""
    if path is None:
        return value.get_secret_value() if value is not None else None
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise InsecureSettings(f"cannot read {path} ({setting}): {exc.strerror or exc}") from None
    if not text:
        raise InsecureSettings(f"{path} ({setting}) is empty")
    return text


class ReportSettings(BaseSettings):
    """The reporting store: PostgreSQL fed from ``dossier.state`` (statistics, exports, reconciliation)."""

    model_config = SettingsConfigDict(env_prefix="DONGBO_REPORT_", extra="ignore")

    url: str = Field(
        "postgresql://dongbo@127.0.0.1:5432/dongbo",
        description="PostgreSQL URL of the reporting store (the local stack starts it on loopback)",
    )
    statement_timeout: float = Field(30.0, description="seconds a statistics query may run before it is cut")
    web_port: int = Field(
        6069, description="port of the reporting sink's metrics (`dongbo sink report`); 0: none"
    )
    schema_name: str = Field(
        "dongbo",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL schema of dongbo's tables (several deployments can share one database)",
    )


class ApiSettings(BaseSettings):
    """The read-only HTTP API (``dongbo api``)."""

    model_config = SettingsConfigDict(env_prefix="DONGBO_API_", extra="ignore")

    bind: str = Field(
        "127.0.0.1", description="address the API listens on (loopback unless a proxy is in front)"
    )
    port: int = Field(8080, description="port of the API")


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DONGBO_WORKER_", extra="ignore")

    app_id: str = Field("dongbo", description="Faust application id (consumer group, changelog prefix)")
    data_dir: Path = Field(PROJECT_ROOT / ".stack" / "worker", description="RocksDB tables live here")
    web_port: int = Field(6066, description="port of the worker's web server (metrics); 0 disables it")
    web_bind: str = Field(
        "127.0.0.1",
        description="address the worker's and sinks' metrics listen on: loopback, except inside a "
        "container where Prometheus scrapes from another one (docker-compose sets 0.0.0.0)",
    )
    sink_web_port: int = Field(
        6067, description="port of a sink process's metrics (`dongbo sink`); 0 disables it"
    )
    topic_prefix: str = Field("", description="prefix for every topic name (tests isolate themselves)")
    sync_tolerance: float = Field(
        1800.0, description="seconds the one-stop system and the portal may disagree before it is a conflict"
    )
    ministry_tolerance: float = Field(
        3600.0, description="seconds a ministry system may disagree with the others before it is a conflict"
    )
    presence_tolerance: float = Field(
        4 * 3600.0,
        description="seconds a dossier received in the one-stop system may be absent from the portal",
    )
    alert_grace: float = Field(
        900.0,
        description="seconds after a deadline passes before it is judged: a completion stamped before it "
        "may still be in a normal sync delay (the portal syncs every 15 minutes)",
    )
    clock: Literal["wall", "stream"] = Field(
        "wall",
        description="wall: live, a caught-up partition's time is now; stream: time is what every source "
        "has delivered on the partition (replays, backlogs)",
    )
    live_margin: float = Field(
        5.0,
        description="wall clock: seconds behind now a caught-up partition's time is held (records in flight)",
    )
    clock_start: datetime | None = Field(
        None, description="ISO time the wall clock starts at (tests, rehearsals); empty = the real time"
    )
    tick_interval: float = Field(
        1.0,
        description="wall clock: seconds between checks that a partition has caught up (and moves to now)",
    )
    watermark_sources: str = Field(
        ",".join(LIVE_SYSTEMS),
        description="sources a partition's stream time waits for before it starts (comma-separated)",
    )
    batch_size: int = Field(
        500, description="merge: most events per batch (one wait for the broker per batch)"
    )
    batch_within: float = Field(
        0.05, description="merge: seconds a batch waits to fill before it is processed"
    )
    catch_up_step: int = Field(
        2000,
        ge=1,
        description="merge: most moments visited between two stores when time leaps (the end of a "
        "backlog, a replay's closing watermark); the rest in further steps, each stored",
    )
    state_cache_mib: int = Field(
        192,
        ge=1,
        description="merge: memory (MiB, estimated) of decoded dossier states kept beside the table; "
        "a state is decoded again (~0.15 ms) when it is not",
    )

    @property
    def expected_sources(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in self.watermark_sources.split(",") if s.strip())

    session_timeout: float = Field(
        15.0, description="seconds without heartbeat before a dead worker's partitions are reassigned"
    )


class StackSettings(BaseSettings):
    """Where the local (no-Docker) stack keeps its jars, data and logs."""

    model_config = SettingsConfigDict(env_prefix="DONGBO_STACK_", extra="ignore")

    home: Path = Field(PROJECT_ROOT / ".stack", description="data, logs and pid files of the local stack")
    cache: Path = Field(
        Path.home() / ".cache" / "dongbo", description="Kafka jars fetched once with Maven, reused after"
    )
    secure: bool = Field(
        False, description="the secure profile: Kafka SASL/SCRAM over TLS with ACLs, Redis ACL users"
    )


class MonitoringSettings(BaseSettings):
    """Prometheus and Alertmanager of the local stack (``dongbo stack up``), on loopback."""

    model_config = SettingsConfigDict(env_prefix="DONGBO_MONITORING_", extra="ignore")

    prometheus: str = Field("127.0.0.1:9090", description="host:port Prometheus listens on")
    alertmanager: str = Field(
        "127.0.0.1:9094", description="host:port Alertmanager listens on (9093: the local Kafka's controller)"
    )
    scrape_interval: float = Field(5.0, description="seconds between Prometheus scrapes of dongbo")
    alert_webhook: str = Field(
        "http://127.0.0.1:9099/alerts",
        description="URL Alertmanager posts operations alerts to (a chat bridge, a ticketing system)",
    )
    alert_email: str = Field("van-hanh@dongbo.local", description="address operations alerts are mailed to")
    smtp: str = Field("127.0.0.1:2525", description="host:port of the SMTP server alerts are mailed through")
    rule_for: str | None = Field(
        None,
        description="rehearsals and tests only: every alert rule's `for` replaced by this (e.g. 0s), to "
        "follow an alert end to end in seconds; empty = the rules as written",
    )
    alert_group_wait: float = Field(
        10.0, description="seconds Alertmanager waits to group a new critical alert before sending it"
    )


class NotifySettings(BaseSettings):
    """Notifications to ward officials (``dongbo notify``: docs/notifications.md)."""

    model_config = SettingsConfigDict(env_prefix="DONGBO_NOTIFY_", extra="ignore")

    subscriptions: Path = Field(
        PROJECT_ROOT / "sinks" / "notify" / "subscriptions.example.yml",
        description="YAML file of officials, their units, channels and language",
    )
    smtp: str = Field("127.0.0.1:2525", description="host:port of the mail server notifications go through")
    sender: str = Field("dongbo@dongbo.local", description="From: address of notification mails")
    link: str = Field(
        "http://127.0.0.1:8080/dossiers/{dossier_id}", description="URL of a dossier, {dossier_id} filled in"
    )
    web_port: int = Field(6068, description="port of the notifier's metrics; 0 disables it")
    max_backoff: float = Field(300.0, description="seconds between retries of a failing channel, at most")


# The key the repository ships so that the demo and the tests run: public, so it protects nothing.
# Refused outside the development profile (``refuse_development_secrets``).
DEV_HMAC_KEY = "dongbo-dev-only-key"


class PrivacySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DONGBO_PRIVACY_", extra="ignore")

    hmac_key: SecretStr = Field(
        SecretStr(DEV_HMAC_KEY), description="key of the applicant pseudonymisation HMAC"
    )
    hmac_key_file: Path | None = Field(
        None, description="file holding the HMAC key (a mounted secret); wins over hmac_key"
    )

    def key(self) -> SecretStr:
        """The key in force: the file's content (surrounding blanks dropped) when a file is set."""
        text = _secret(self.hmac_key, self.hmac_key_file, "DONGBO_PRIVACY_HMAC_KEY_FILE")
        assert text is not None  # the key has a default
        return SecretStr(text)


class DomainSettings(BaseSettings):
    """Every *(policy)* choice of the domain rules, from ``DONGBO_DOMAIN_*``. The rules never read
    these: ``streams.configured`` turns them into the policy objects the rules are given."""

    model_config = SettingsConfigDict(env_prefix="DONGBO_DOMAIN_", extra="ignore")

    catalogue_path: Path | None = Field(
        None, description="the procedure catalogue in use; empty = the packaged one (`dongbo catalogue load`)"
    )
    overrides_path: Path | None = Field(None, description="yearly swap table; empty = the packaged one")
    office_hours_path: Path | None = Field(None, description="per-unit office hours; empty = packaged")
    units_path: Path | None = Field(
        None,
        description="unit codes with their mergers and validity dates; empty = the packaged Da Nang file",
    )
    same_day_cutoff: time = Field(time(15, 0), description="same-day rule cut-off (HH:MM)")
    # Values of streams.domain.policy.ReceiptRule / ExtensionJudgement (checked when the rules are
    # built, so the names have one home).
    online_receipt: str = Field(
        "next_working_day", description="clock start, online: as_received | next_opening | next_working_day"
    )
    counter_outside_hours: str = Field(
        "next_opening", description="clock start, counter receipt outside office hours (same values)"
    )
    working_day_hours: float = Field(8.0, gt=0, description="working time of one working day (hours)")
    receipt_allowance_hours: float = Field(8.0, ge=0, description="online receipt later than this is late")
    culture_day_off: bool = Field(False, description="24 Nov (Ngày Văn hóa Việt Nam) is a day off")
    early_margin_hours: float = Field(8.0, ge=0, description="ended this much before due = early")
    near_deadline_hours: float = Field(8.0, ge=0, description="near-deadline alert threshold")
    extension_judged_against: str = Field(
        "original", description="an extended dossier is judged against this date: original | extended"
    )
    calendar_units_end_at_close: bool = Field(
        False, description="DAYS/MONTHS limits end at the close of office of the last day"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # development: the demo, the tests, a laptop (the built-in development secrets are accepted);
    # production: anything else (they are refused at start, ``refuse_development_secrets``).
    profile: Literal["development", "production"] = Field(
        "development", validation_alias="DONGBO_PROFILE", description="development | production"
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    domain: DomainSettings = Field(default_factory=DomainSettings)


class InsecureSettings(ValueError):
    """Settings a process must not run with (what to set is in the message)."""


def refuse_development_secrets(settings: Settings, who: str) -> None:
    """Outside the development profile, refuse to start with the secrets the repository ships: a
    pseudonym made with a public key can be reversed by hashing every identity number."""
    if settings.profile == "development":
        return
    if settings.privacy.key().get_secret_value() == DEV_HMAC_KEY:
        raise InsecureSettings(
            f"{who} will not start in the {settings.profile} profile with the built-in development "
            "pseudonymisation key: put the city's key in a file readable only by dongbo and set "
            "DONGBO_PRIVACY_HMAC_KEY_FILE to it (or DONGBO_PRIVACY_HMAC_KEY), or set "
            "DONGBO_PROFILE=development on a test machine"
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process (a worker, a CLI) see these same settings."""
    env = {
        "DONGBO_PROFILE": settings.profile,
        "DONGBO_KAFKA_BOOTSTRAP": settings.kafka.bootstrap,
        "DONGBO_KAFKA_PARTITIONS": str(settings.kafka.partitions),
        "DONGBO_KAFKA_REPLICATION": str(settings.kafka.replication),
        "DONGBO_REDIS_URL": settings.redis.url,
        "DONGBO_REPORT_URL": settings.report.url,
        "DONGBO_REPORT_WEB_PORT": str(settings.report.web_port),
        "DONGBO_REPORT_SCHEMA_NAME": settings.report.schema_name,
        "DONGBO_STACK_HOME": str(settings.stack.home),
        "DONGBO_STACK_CACHE": str(settings.stack.cache),
        "DONGBO_MONITORING_PROMETHEUS": settings.monitoring.prometheus,
        "DONGBO_MONITORING_ALERTMANAGER": settings.monitoring.alertmanager,
    }
    k = settings.kafka
    if k.security_protocol != "PLAINTEXT":  # files and names, never a secret itself
        env["DONGBO_KAFKA_SECURITY_PROTOCOL"] = k.security_protocol
        env["DONGBO_KAFKA_SASL_MECHANISM"] = k.sasl_mechanism
        for name, value in (("SASL_USERNAME", k.sasl_username), ("SASL_PASSWORD_FILE", k.sasl_password_file),
                            ("SSL_CA", k.ssl_ca)):  # fmt: skip
            if value is not None:
                env[f"DONGBO_KAFKA_{name}"] = str(value)
    r = settings.redis
    for name, value in (("USERNAME", r.username), ("PASSWORD_FILE", r.password_file)):
        if value is not None:
            env[f"DONGBO_REDIS_{name}"] = str(value)
    if settings.privacy.hmac_key_file is not None:  # the file, never the key itself
        env["DONGBO_PRIVACY_HMAC_KEY_FILE"] = str(settings.privacy.hmac_key_file)
    for name in type(settings.notify).model_fields:
        env[f"DONGBO_NOTIFY_{name.upper()}"] = str(getattr(settings.notify, name))
    # Every worker setting, from its own fields: a new setting cannot be forgotten here.
    for name in type(settings.worker).model_fields:
        value = getattr(settings.worker, name)
        if value is not None:
            env[f"DONGBO_WORKER_{name.upper()}"] = (
                value.isoformat() if isinstance(value, datetime) else str(value)
            )
    return env
