"""The monitoring stack live: Prometheus scraping real worker and sink processes, every Grafana
panel's query answered, and an operations alert followed from the worker's metrics through
Prometheus and Alertmanager to the webhook and the mailbox of the operations team.

The test stack's Prometheus runs the rules without their ``for`` (``rule_for=0s``: the durations
have their promtool tests), and Alertmanager sends critical alerts after one second.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import urlopen

import pytest
from aiosmtpd.controller import Controller

from contract.settings import PROJECT_ROOT, Settings
from contract.topics import ensure_topics, topics_for
from dongbo.stack import write_targets
from producers.publisher import Publisher
from producers.simulator import run_simulation
from streams.model import VN_TZ, Channel, DossierEvent, Status
from tests.integration.conftest import TEST_ALERT_WEBHOOK_PORT, TEST_SMTP_PORT, WorkerHandle, _free_port
from tests.integration.kafka_util import wait_for
from tests.integration.replay_check import CONFIG

pytestmark = pytest.mark.integration

DASHBOARDS = PROJECT_ROOT / "monitoring" / "grafana" / "dashboards"


def query(settings: Settings, expr: str) -> list[dict[str, Any]]:
    url = f"http://{settings.monitoring.prometheus}/api/v1/query?{urlencode({'query': expr})}"
    with urlopen(url, timeout=10) as resp:
        doc = json.load(resp)
    assert doc["status"] == "success", (expr, doc)
    return list(doc["data"]["result"])


@pytest.fixture
def scraped(settings: Settings) -> Iterator[Settings]:
    """Prometheus scrapes this test's worker and sink (file discovery, labelled with its app id)."""
    targets = settings.stack.home / "prometheus" / "targets"
    files = []
    for job, port in (("worker", settings.worker.web_port), ("sink", settings.worker.sink_web_port)):
        path = targets / f"{job}-{settings.worker.app_id}.json"
        write_targets(path, [f"127.0.0.1:{port}"], {"app": settings.worker.app_id})
        files.append(path)
    yield settings
    for path in files:
        path.unlink(missing_ok=True)


def panel_queries() -> list[tuple[str, str, str, str]]:
    """(dashboard, panel, expr, description) of every panel of every provisioned dashboard."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        doc = json.loads(path.read_text())
        for panel in doc["panels"]:
            for target in panel.get("targets", []):
                out.append((path.stem, panel["title"], target["expr"], panel.get("description", "")))
    return out


def test_every_dashboard_panel_answers_with_data_from_the_live_worker(scraped: Settings) -> None:
    settings = scraped
    app = settings.worker.app_id
    # A live worker whose clock starts after the simulated days: moments pass, alerts fire.
    end = datetime(CONFIG.start.year, CONFIG.start.month, CONFIG.start.day, 9, tzinfo=VN_TZ)
    live = settings.model_copy(update={"worker": settings.worker.model_copy(update={
        "clock": "wall", "clock_start": end + timedelta(days=CONFIG.days + CONFIG.tail_days + 1),
        "live_margin": 0.5, "tick_interval": 0.25})})  # fmt: skip
    handle = WorkerHandle(live, settings.worker.data_dir.parent / "worker.log").start()
    try:
        run_simulation(live, CONFIG)
        with Publisher(live) as pub:  # and one record nobody can read: the dead-letter panels show it
            pub.send(topics_for(live).source("portal"), "GARBAGE-1", b"\x00not avro at all")
        wait_for(lambda: query(settings, f'sum(dongbo_events_total{{app="{app}"}})'), timeout=60,
                 what="Prometheus scrapes the worker's merged events")  # fmt: skip
        wait_for(lambda: query(settings, f'dongbo_open_dossiers{{app="{app}"}}'), timeout=90,
                 what="Prometheus scrapes the sink's live figures")  # fmt: skip
        wait_for(lambda: query(settings, f'dongbo_timer_lag_seconds_count{{app="{app}"}}'), timeout=60,
                 what="deadline alerts fired")  # fmt: skip
        # The unit dashboard is filled with a unit that has open late dossiers, open conflicts and
        # overdue alerts (the sink's figures fill in as it catches up).
        both = (f'max by (unit) (dongbo_open_dossiers{{app="{app}"}}) and on (unit) '
                f'max by (unit) (dongbo_open_conflicts{{app="{app}"}}) and on (unit) '
                f'sum by (unit) (dongbo_deadline_alerts_total{{app="{app}",kind="overdue"}})')  # fmt: skip
        wait_for(lambda: query(settings, both), timeout=90, what="a unit with late dossiers and conflicts")
        units = query(settings, both)
        unit = units[0]["metric"]["unit"]
        queries = []
        for dashboard, title, expr, description in panel_queries():
            concrete = expr.replace("$app", app).replace("$unit", unit)
            assert "$" not in concrete, f"{dashboard}/{title}: an unknown variable in {expr}"
            must = "May be empty" not in description
            queries.append((f"{dashboard} / {title}: {concrete}", concrete, must))
        # A rate needs two scrapes of a series: poll until every panel that must show data does.
        deadline = time.monotonic() + 60
        while True:
            # An error (bad PromQL) fails at once, in ``query``.
            empty = [name for name, concrete, must in queries if not query(settings, concrete) and must]
            if not empty or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert not empty, "panels without data:\n" + "\n".join(empty)
    finally:
        handle.stop()


class Received:
    """What the operations team got: webhook posts and mails."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.mails: list[str] = []

    def alerts(self) -> list[dict[str, str]]:
        return [a["labels"] for p in self.posts for a in p.get("alerts", []) if a.get("status") == "firing"]


@pytest.fixture
def receivers() -> Iterator[Received]:
    got = Received()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.posts.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    class Mailbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            got.mails.append(envelope.content.decode("utf-8", errors="replace"))
            return "250 OK"

    http = ThreadingHTTPServer(("127.0.0.1", TEST_ALERT_WEBHOOK_PORT), Hook)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    smtp = Controller(Mailbox(), hostname="127.0.0.1", port=TEST_SMTP_PORT)
    smtp.start()
    try:
        yield got
    finally:
        http.shutdown()
        smtp.stop()


WEDNESDAY_9AM = datetime(2026, 3, 4, 9, 0, tzinfo=VN_TZ)  # offices open
WEDNESDAY_11PM = datetime(2026, 3, 4, 23, 0, tzinfo=VN_TZ)  # closed


def feeds(dossier: str, now: datetime) -> list[DossierEvent]:
    """The one-stop system heard a minute ago, the portal last heard two hours ago."""
    heard = {"portal": now - timedelta(hours=2), "onestop": now - timedelta(minutes=1)}
    return [
        DossierEvent(
            dossier_id=dossier,
            source=source,
            source_event_id=f"{dossier}-{source}",
            source_seq=1,
            status=Status.RECEIVED,
            occurred_at=at,
            ingested_at=at,
            procedure_code="1.001766",
            unit_code="000.00.15.H17",
            channel=Channel.COUNTER,
        )
        for source, at in heard.items()
    ]


def variant(settings: Settings, tmp_path: Path, name: str, start: datetime) -> Settings:
    """A worker of its own (group, topics, ports, folder) whose clock starts at ``start``."""
    ws = settings.worker
    return settings.model_copy(update={"worker": ws.model_copy(update={
        "app_id": f"{ws.app_id}-{name}", "topic_prefix": f"{ws.topic_prefix}{name}.", "clock": "wall",
        "clock_start": start, "web_port": _free_port(), "sink_web_port": _free_port(),
        "data_dir": tmp_path / name})})  # fmt: skip


def silence(settings: Settings, app: str, source: str) -> float:
    found = query(settings, f'dongbo_source_silence_seconds{{app="{app}",source="{source}"}}')
    return float(found[0]["value"][1]) if found else 0.0


def test_a_feed_stalled_in_office_hours_reaches_operations_and_the_same_at_night_does_not(
    settings: Settings, tmp_path: Path, receivers: Received
) -> None:
    day = variant(settings, tmp_path, "day", WEDNESDAY_9AM)
    night = variant(settings, tmp_path, "night", WEDNESDAY_11PM)
    targets = settings.stack.home / "prometheus" / "targets"
    handles = []
    try:
        for s in (day, night):
            ensure_topics(s)
            handles.append(WorkerHandle(s, tmp_path / f"{s.worker.app_id}.log", sink=False).start())
            # Scraped once it answers (a target added before would be a worker down, rightly).
            write_targets(targets / f"worker-{s.worker.app_id}.json", [f"127.0.0.1:{s.worker.web_port}"],
                          {"app": s.worker.app_id})  # fmt: skip
            with Publisher(s) as pub:
                pub.send_events(feeds("STALL-1", s.worker.clock_start))

        # Prometheus sees both workers' portal silence (about two hours)...
        for app in (day.worker.app_id, night.worker.app_id):
            wait_for(lambda app=app: silence(settings, app, "portal") > 7000, timeout=60,
                     what=f"{app}: the portal's silence scraped")  # fmt: skip

        # ... the day's alert goes out to the webhook and by mail ...
        def stalled() -> bool:
            return any(a.get("alertname") == "DongboSourceFeedStalled" and a.get("app") == day.worker.app_id
                       for a in receivers.alerts())  # fmt: skip

        wait_for(stalled, timeout=90, what="the stalled-feed alert reaches the operations webhook")
        stalled = [a for a in receivers.alerts() if a.get("app") == day.worker.app_id]
        assert {a["source"] for a in stalled if a["alertname"] == "DongboSourceFeedStalled"} == {"portal"}
        assert all(a["severity"] == "critical" for a in stalled)
        wait_for(lambda: any(day.worker.app_id in m for m in receivers.mails), timeout=60,
                 what="the alert mailed to the operations team")  # fmt: skip
        mail = next(m for m in receivers.mails if day.worker.app_id in m)
        assert re.search(r"^To: .*van-hanh@dongbo\.local", mail, re.M), mail[:500]
        assert "DongboSourceFeedStalled" in mail

        # ... and the night worker's, the same silence with offices closed, never fired.
        assert query(settings, f'dongbo_office_open{{app="{night.worker.app_id}"}}')[0]["value"][1] == "0"
        assert query(settings, f'dongbo_office_open{{app="{day.worker.app_id}"}}')[0]["value"][1] == "1"
        assert not query(settings, f'ALERTS{{app="{night.worker.app_id}"}}')
        assert not [a for a in receivers.alerts() if a.get("app") == night.worker.app_id
                    and a["alertname"] == "DongboSourceFeedStalled"]  # fmt: skip
    finally:
        for h in handles:
            h.stop()
        for s in (day, night):
            (targets / f"worker-{s.worker.app_id}.json").unlink(missing_ok=True)
