"""Notifications to ward officials on the real stack: alerts on ``dossier.deadlines`` (Kafka), the
outbox in Redis, mail to a real SMTP server (aiosmtpd) and posts to a real HTTP receiver, both on
loopback; the notifier is a ``dongbo notify`` process whose clock starts where a test puts it."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_string
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from contract.settings import Settings
from contract.topics import topics_for
from dongbo.notify import NOTIFY_READY_MARK
from dongbo.processes import start_notifier, wait_ready
from producers.publisher import Publisher
from schemas import codec
from streams.model import VN_TZ, Channel, DossierEvent, Status
from tests.integration.conftest import WorkerHandle, _free_port
from tests.integration.kafka_util import wait_for

pytestmark = pytest.mark.integration

UNIT = "000.00.15.H17"
DUE = datetime(2026, 3, 4, 13, 30, tzinfo=VN_TZ)  # Wednesday


class Inbox:
    """A real SMTP server and a real webhook receiver on loopback, recording what arrives."""

    def __init__(self, smtp_port: int, http_port: int, fail_first: int = 0, delay: float = 0.0) -> None:
        self.mails: list[Any] = []
        self.posts: list[dict[str, Any]] = []
        self.refused = 0
        inbox = self

        class Mailbox:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                if delay:
                    await asyncio.sleep(delay)  # a slow mail server: the notifier is caught mid-run
                inbox.mails.append(message_from_string(envelope.content.decode("utf-8")))
                return "250 OK"

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if inbox.refused < fail_first:
                    inbox.refused += 1
                    self.send_response(503)  # the bridge is down
                else:
                    inbox.posts.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.smtp = Controller(Mailbox(), hostname="127.0.0.1", port=smtp_port)
        self.http = ThreadingHTTPServer(("127.0.0.1", http_port), Hook)

    def __enter__(self) -> Inbox:
        self.smtp.start()
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.shutdown()
        self.smtp.stop()

    def subjects(self) -> list[str]:
        return [str(make_header(decode_header(m["Subject"]))) for m in self.mails]

    def bodies(self) -> list[str]:
        return [m.get_payload(decode=True).decode("utf-8") for m in self.mails]


@pytest.fixture
def notify_settings(settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, int]]:
    smtp_port, http_port = _free_port(), _free_port()
    subs = tmp_path / "subscriptions.yml"
    subs.write_text(
        "officials:\n"
        f"  - {{name: Nguyễn Văn An, units: ['{UNIT}'], email: an@example.gov.vn, lang: vi}}\n"
        f"  - {{name: Bridge, units: ['{UNIT}'], webhook: 'http://127.0.0.1:{http_port}/n', lang: en}}\n",
        encoding="utf-8",
    )
    notify = settings.notify.model_copy(update={
        "subscriptions": subs, "smtp": f"127.0.0.1:{smtp_port}", "web_port": _free_port(), "max_backoff": 2.0,
        "link": "https://dongbo.example/ho-so/{dossier_id}"})  # fmt: skip
    yield settings.model_copy(update={"notify": notify}), http_port


def alert(dossier: str, kind: str, at: datetime) -> bytes:
    return codec.encode("vn.dongbo.DeadlineAlert", {
        "id": f"{dossier}:{kind}", "dossier_id": dossier, "kind": kind, "due_at": DUE, "unit_code": UNIT,
        "procedure_code": "1.001766", "status": "IN_PROGRESS", "at": at, "state_version": 3,
    })  # fmt: skip


def publish(settings: Settings, records: list[tuple[str, bytes]]) -> None:
    with Publisher(settings) as pub:
        for key, value in records:
            pub.send(topics_for(settings).deadlines, key, value)


class Notifier:
    def __init__(self, settings: Settings, log: Path, start: datetime) -> None:
        self.settings = settings.model_copy(update={"worker": settings.worker.model_copy(
            update={"clock_start": start})})  # fmt: skip
        self.log = log
        self.proc = start_notifier(self.settings, log)
        wait_ready(self.proc, log, mark=NOTIFY_READY_MARK)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


def test_an_official_gets_one_message_per_dossier_and_threshold_held_outside_office_hours(
    notify_settings: tuple[Settings, int], tmp_path: Path
) -> None:
    settings, http_port = notify_settings
    smtp_port = int(settings.notify.smtp.rsplit(":", 1)[1])
    # The notifier's clock starts Thursday 07:29:52, eight seconds before the office opens.
    start = datetime(2026, 3, 5, 7, 29, 52, tzinfo=VN_TZ)
    with Inbox(smtp_port, http_port) as inbox:
        ten, night = datetime(2026, 3, 4, 10, 0, tzinfo=VN_TZ), datetime(2026, 3, 4, 22, 0, tzinfo=VN_TZ)
        publish(settings, [
            ("D-DAY", alert("D-DAY", "near_deadline", ten)),  # office open: at once
            ("D-DAY", alert("D-DAY", "near_deadline", ten)),  # the same alert redelivered: one message
            ("D-NIGHT", alert("D-NIGHT", "overdue", night)),  # at night: held to the next opening
            ("D-LATE", alert("D-LATE", "received_late", ten)),  # officials are not told of this kind
        ])  # fmt: skip
        began = time.monotonic()
        notifier = Notifier(settings, tmp_path / "notify.log", start)
        try:
            wait_for(lambda: len(inbox.mails) >= 1, timeout=30, what="the office-hours alert mailed at once")
            assert time.monotonic() - began < 7
            assert len(inbox.mails) == 1, inbox.subjects()  # the night's alert is held
            wait_for(lambda: len(inbox.mails) >= 2, timeout=30, what="the night's alert, at the opening")
            assert time.monotonic() - began >= 7  # not before 07:30 on the notifier's clock
            time.sleep(2)
        finally:
            notifier.stop()
        assert inbox.subjects() == ["[dongbo] 1 hồ sơ sắp đến hạn giải quyết",
                                    "[dongbo] Hồ sơ D-NIGHT đã quá hạn giải quyết"]  # fmt: skip
        first, second = inbox.bodies()
        assert inbox.mails[0]["To"] == "an@example.gov.vn"
        assert "Mã hồ sơ: D-DAY" in first and "Hạn giải quyết: 13:30 04/03/2026" in first
        assert "Thủ tục: 1.001766" in first and f"Đơn vị: {UNIT}" in first
        assert "Thời gian làm việc còn lại:" in first and "https://dongbo.example/ho-so/D-DAY" in first
        # Sent Thursday 07:30: due Wednesday 13:30, so 3 h 30 of working time late (13:30 → 17:00).
        assert "Đã quá hạn (giờ làm việc): 3 giờ 30 phút" in second
        # The webhook official, in English, got the same two, as JSON.
        assert sorted(p["subject"] for p in inbox.posts) == [
            "[dongbo] 1 dossier(s) near their due time", "[dongbo] Dossier D-NIGHT is overdue"]  # fmt: skip
        assert {d["dossier_id"] for p in inbox.posts for d in p["dossiers"]} == {"D-DAY", "D-NIGHT"}


def test_a_sigkilled_notifier_neither_loses_nor_doubles_and_a_failing_webhook_is_retried(
    notify_settings: tuple[Settings, int], tmp_path: Path
) -> None:
    settings, http_port = notify_settings
    smtp_port = int(settings.notify.smtp.rsplit(":", 1)[1])
    start = datetime(2026, 3, 5, 9, 0, tzinfo=VN_TZ)  # office open: everything goes at once
    n = 40
    dossiers = [f"D-{i:03d}" for i in range(n)]
    # A slow mail server (so the kill lands mid-run) and a webhook refusing its first 3 posts.
    with Inbox(smtp_port, http_port, fail_first=3, delay=0.05) as inbox:
        publish(
            settings, [(d, alert(d, "overdue", datetime(2026, 3, 4, 14, 0, tzinfo=VN_TZ))) for d in dossiers]
        )
        notifier = Notifier(settings, tmp_path / "notify.log", start)
        wait_for(lambda: len(inbox.mails) >= 8, timeout=60, what="some mails sent")
        notifier.kill()  # SIGKILL, mid-run
        killed_at = len(inbox.mails)
        assert killed_at < n, "the kill came after the end: the test proves nothing"
        notifier = Notifier(settings, tmp_path / "notify.log", start)
        try:
            wait_for(lambda: len(inbox.mails) >= n and len(inbox.posts) >= n, timeout=90,
                     what="every notice delivered after the restart")  # fmt: skip
            time.sleep(3)  # anything doubled would show by now
        finally:
            notifier.stop()
        # Nothing lost, nothing doubled: one message per dossier and channel. The documented window
        # (docs/notifications.md): a message the server accepted just before the SIGKILL, not yet
        # marked sent, goes again with the same id for the receiver to drop. So at most the one
        # message in flight per channel repeats, and only ever under its own id.
        mails = {
            (re.search(r"(D-\d+)", subject).group(1), m["Message-ID"])
            for subject, m in zip(inbox.subjects(), inbox.mails, strict=True)
        }
        assert sorted(d for d, _id in mails) == dossiers, "one distinct mail per dossier"
        assert len(inbox.mails) - len(mails) <= 1, f"{len(inbox.mails) - len(mails)} mails repeated"
        posts = {(d["dossier_id"], p["message_id"]) for p in inbox.posts for d in p["dossiers"]}
        assert sorted(d for d, _id in posts) == dossiers, "one distinct post per dossier"
        assert len(inbox.posts) - len(posts) <= 1
        assert inbox.refused == 3  # the webhook was down three times; its notices were kept and retried
        log = (tmp_path / "notify.log").read_text()
        assert "retried in" in log
    # What the outbox recorded: every notice sent, none pending.
    from redis import Redis

    from sinks.notify.outbox import Outbox
    from sinks.redis_sink import keys_for

    assert Outbox(Redis.from_url(settings.redis.url), keys_for(settings).prefix).counts() == (0, 2 * n)


def test_from_a_dossier_received_to_the_officials_mail_through_the_real_worker(
    notify_settings: tuple[Settings, int], tmp_path: Path
) -> None:
    """The whole chain: a receipt event on dossier.events, the worker's near-deadline and overdue
    alerts on dossier.deadlines, the notifier's mails. Worker and notifier clocks start four
    seconds before the due time (a Wednesday, 13:29:56), so the overdue moment passes live."""
    settings, http_port = notify_settings
    smtp_port = int(settings.notify.smtp.rsplit(":", 1)[1])
    start = DUE - timedelta(seconds=4)
    live = settings.model_copy(update={"worker": settings.worker.model_copy(update={
        "clock_start": start, "tick_interval": 0.5, "alert_grace": 0.0})})  # fmt: skip
    received = DossierEvent(
        dossier_id="CHAIN-1", source="onestop", source_event_id="CHAIN-1-rcv", source_seq=1,
        status=Status.RECEIVED, occurred_at=datetime(2026, 3, 4, 8, 0, tzinfo=VN_TZ), ingested_at=start,
        procedure_code="1.001766", unit_code=UNIT, channel=Channel.COUNTER,
    )  # fmt: skip
    with Inbox(smtp_port, http_port) as inbox:
        handle = WorkerHandle(live, tmp_path / "worker.log", sink=False).start()
        notifier = Notifier(live, tmp_path / "notify.log", start)
        try:
            with Publisher(live) as pub:
                pub.send_events([received])
            wait_for(lambda: len(inbox.mails) >= 2, timeout=60, what="near-deadline then overdue mails")
            time.sleep(2)
        finally:
            notifier.stop()
            handle.stop()
    assert inbox.subjects() == ["[dongbo] 1 hồ sơ sắp đến hạn giải quyết",
                                "[dongbo] Hồ sơ CHAIN-1 đã quá hạn giải quyết"]  # fmt: skip
    assert all(m["To"] == "an@example.gov.vn" for m in inbox.mails)
    assert "Hạn giải quyết: 13:30 04/03/2026" in inbox.bodies()[0]
