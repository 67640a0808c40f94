"""The read-only HTTP API over the real Redis and PostgreSQL: the same answers as the CLI, the same
errors, and unit scoping for a principal limited to some units."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.request import urlopen

import openpyxl
import pytest
from fastapi.testclient import TestClient
from redis import Redis

from contract.settings import PROJECT_ROOT, Settings, settings_env
from dongbo.api import Principal, create_app, current_principal, settings_dep
from dongbo.stats import clear_redis, open_store
from sinks.redis_sink import RedisStateSink, keys_for

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _state(i: int, unit: str, **over: Any) -> dict[str, Any]:
    received = T0 + timedelta(days=i % 5)
    due = received + timedelta(days=2)
    ended = received + timedelta(days=1 + i % 3) if i % 2 else None
    portal = {"source": "portal", "status": "RESULT_READY" if ended else "IN_PROGRESS", "source_status": None,
              "last_occurred_at": received, "last_seen_at": received, "last_seq": None, "due_at": due,
              "overdue": None, "events": 1, "unit_code": unit}  # fmt: skip
    onestop = {**portal, "source": "onestop", "due_at": due - timedelta(days=1) if i % 3 == 0 else due}
    state = {
        "dossier_id": f"{unit}-{i:04d}", "version": 1, "status": portal["status"],
        "procedure_code": "1.001193",
        "unit_code": unit, "channel": "ONLINE" if i % 2 else "COUNTER", "submitted_at": None,
        "received_at": received, "ended_at": ended, "due_at": due, "extended_due_at": None,
        "received_late": False, "alerts": [],
        "outcome": ("OVERDUE" if ended > due else "ON_TIME") if ended else "PENDING",
        "last_event_at": received, "updated_at": received, "pauses": [], "conflicts": [], "discrepancies": [],
        "sources": {"portal": portal, "onestop": onestop} if i % 7 else {"portal": portal},
    }  # fmt: skip
    return {**state, **over}


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, Any, list[dict[str, Any]]]]:
    states = [_state(i, "U1") for i in range(30)] + [_state(i, "U2") for i in range(12)]
    store = open_store(settings)
    client = Redis.from_url(settings.redis.url)
    clear_redis(client, keys_for(settings))
    store.write(states)
    RedisStateSink(client, keys_for(settings)).write(states)
    app = create_app()
    app.dependency_overrides[settings_dep] = lambda: settings
    yield TestClient(app), app, states
    store.conn.close()


def _cli(settings: Settings, *args: str) -> Any:
    env = {**os.environ, **settings_env(settings)}
    res = subprocess.run([sys.executable, "-m", "dongbo", *args], capture_output=True, text=True, env=env,
                         cwd=PROJECT_ROOT, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_the_api_answers_as_the_cli_does(settings, api) -> None:
    http, _app, states = api
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/dossiers/{dossier_id}", "/stats", "/indicators/{indicator_id}", "/export", "/reconcile"} <= set(
        paths
    )
    for query, args in (
        ("by=unit&by=outcome", ["--by", "unit", "--by", "outcome"]),
        ("unit=U1&from=2026-03-03&by=day", ["--unit", "U1", "--from", "2026-03-03", "--by", "day"]),
        ("outcome=late&by=channel", ["--outcome", "late", "--by", "channel"]),
    ):
        got = http.get(f"/stats?{query}")
        assert got.status_code == 200, got.text
        assert got.json() == _cli(settings, "stats", *args, "--format", "json")
    assert sum(r["dossiers"] for r in http.get("/stats?by=unit").json()) == len(states)

    doc = http.get(f"/dossiers/{states[0]['dossier_id']}").json()
    assert doc["unit_code"] == "U1" and set(doc["sources"]) == {"portal"}
    assert http.get("/dossiers/NOPE").status_code == 404

    ind = http.get("/indicators/2.1?by=unit").json()
    legal = {r["unit"]: r for r in ind["rows"] if r["judged_by"] == "legal"}
    assert legal["U1"]["dossiers"] == 30 and 0 < legal["U1"]["rate"] <= 1

    # The export has as many rows as the figure, in CSV and XLSX.
    figure = http.get("/stats?unit=U1&outcome=ended").json()[0]["dossiers"]
    body = http.get("/export?unit=U1&outcome=ended&format=csv").content.decode("utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(body)))) == figure
    xlsx = http.get("/export?unit=U1&outcome=ended&format=xlsx&lang=en")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.max_row - 1 == figure and sheet.cell(1, 1).value == "Dossier code"

    rec = http.get("/reconcile?between=portal&between=onestop").json()
    want = {s["dossier_id"] for s in states if "onestop" not in s["sources"] or
            s["sources"]["onestop"]["due_at"] != s["sources"]["portal"]["due_at"]}  # fmt: skip
    assert {line["dossier_id"] for line in rec["lines"]} == want and rec["dossiers"] == len(want)
    assert rec["by_field"]["presence"] == sum("onestop" not in s["sources"] for s in states)


def test_bad_requests_are_400_with_the_cli_message(api) -> None:
    http, _app, _states = api
    for query, message in (
        ("unit=NOPE", "no dossier has unit 'NOPE'"),
        ("from=2026-03-10&to=2026-03-01", "inverted"),
        ("by=colour", "--by 'colour'"),
        ("outcome=lost", "--outcome 'lost'"),
    ):
        res = http.get(f"/stats?{query}")
        assert res.status_code == 400 and message in res.json()["detail"], (query, res.text)
    assert http.get("/indicators/9.9").status_code == 400
    assert http.get("/reconcile?between=portal").status_code == 400
    assert http.get("/stats?from=2030-01-01").json() == []


def test_a_principal_limited_to_a_unit_sees_only_that_unit(api) -> None:
    http, app, states = api
    app.dependency_overrides[current_principal] = lambda: Principal("ward-u2", frozenset({"U2"}))
    assert http.get("/stats?by=unit").json() == [{"unit": "U2", "dossiers": 12}]
    assert http.get("/stats?unit=U1").status_code == 403
    u1 = next(s for s in states if s["unit_code"] == "U1")["dossier_id"]
    assert http.get(f"/dossiers/{u1}").status_code == 404  # another unit's dossier does not exist for it
    body = http.get("/export?format=csv").content.decode("utf-8-sig")
    assert {r["Đơn vị"] for r in csv.DictReader(io.StringIO(body))} == {"U2"}


def test_dongbo_api_serves_on_loopback(settings, api) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, **settings_env(settings)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dongbo", "api", "--port", str(port)], env=env, cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    assert json.loads(resp.read()) == {"redis": "ok", "report": "ok"}
                    break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "dongbo api did not answer"
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(20)
