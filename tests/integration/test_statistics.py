"""Statistics on the real stack: the reporting store (PostgreSQL) and Redis's live figures as views of
``dossier.state``, recounted, lost and rebuilt; the real WABO log's figures against a recount of the
raw CSV; the indicators of a simulated city against the simulator's truth."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from redis import Redis

from contract.settings import PROJECT_ROOT, Settings, settings_env
from contract.sources import SOURCE_SYSTEMS
from contract.topics import topics_for
from dongbo.lag import wait_caught_up
from dongbo.processes import SINK_READY_MARK, start_sink, wait_ready
from dongbo.stats import clear_redis, open_store, rebuild, verify
from producers.importers.mapping import load_mapping
from producers.importers.pipeline import ImportJob, import_to_kafka
from producers.simulator import run_simulation
from sinks.redis_sink import RedisStateSink, dimensions, keys_for, redis_sink_group, state_json
from sinks.report.query import Filters
from sinks.report.rows import report_row
from sinks.runner import sink_group
from tests.integration.replay_check import CONFIG
from tests.integration.test_import_wabo import CSV_PATH

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
UNITS = ("U1", "U2", "U3")
STATUSES = ("RECEIVED", "IN_PROGRESS", "RESULT_READY", "RETURNED", "SUPPLEMENT_REQUESTED")
OUTCOMES = ("PENDING", "ON_TIME", "ENDED_EARLY", "OVERDUE")


def _state(dossier: str, version: int, draw: Any) -> dict[str, Any]:
    """A DossierState record as the codec decodes it (the fields the figures read)."""
    status = draw(st.sampled_from(STATUSES))
    ended = status in ("RESULT_READY", "RETURNED")
    received = T0 + timedelta(days=draw(st.integers(0, 120)), hours=draw(st.integers(0, 10)))
    sources = {
        name: {
            "source": name, "status": draw(st.sampled_from(STATUSES)), "source_status": None,
            "last_occurred_at": received, "last_seen_at": received, "last_seq": None,
            "due_at": draw(st.sampled_from([None, received + timedelta(days=3)])),
            "overdue": draw(st.sampled_from([None, True, False])), "events": 1, "unit_code": None,
        }
        for name in draw(st.sets(st.sampled_from(("portal", "onestop", "civil")), min_size=1))
    }  # fmt: skip
    return {
        "dossier_id": dossier, "version": version, "status": status,
        "procedure_code": draw(st.sampled_from(["1.001193", "2.000815", None])),
        "unit_code": draw(st.sampled_from(UNITS)), "channel": draw(st.sampled_from(["ONLINE", "COUNTER"])),
        "submitted_at": None, "received_at": received,
        "ended_at": received + timedelta(days=2) if ended else None,
        "due_at": received + timedelta(days=3), "extended_due_at": None, "received_late": draw(st.booleans()),
        "alerts": draw(st.lists(st.sampled_from(["near_deadline", "overdue"]), unique=True)),
        "outcome": draw(st.sampled_from(OUTCOMES)), "last_event_at": received, "updated_at": received,
        "sources": sources, "pauses": [],
        "conflicts": [{"kind": k, "systems": [], "detail": "", "values": {}, "since": received}
                      for k in draw(st.sets(st.sampled_from(["status_mismatch", "due_date_mismatch"])))],
        "discrepancies": [],
    }  # fmt: skip


@st.composite
def histories(draw: Any) -> list[dict[str, Any]]:
    """Every version of a few dossiers, in the order a sink might receive them (shuffled, repeated)."""
    out = []
    for i in range(draw(st.integers(1, 6))):
        for v in range(1, draw(st.integers(1, 4)) + 1):
            out.append(_state(f"D{i}", v, draw))
    out += draw(st.lists(st.sampled_from(out), max_size=4))  # redeliveries
    return draw(st.permutations(out))


def _final(states: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for s in states:
        if s["dossier_id"] not in latest or s["version"] > latest[s["dossier_id"]]["version"]:
            latest[s["dossier_id"]] = s
    return latest


@pytest.fixture
def stores(settings: Settings) -> Iterator[tuple[Any, RedisStateSink, Redis]]:
    store = open_store(settings)
    client = Redis.from_url(settings.redis.url)
    yield store, RedisStateSink(client, keys_for(settings)), client
    store.conn.close()


def test_any_sequence_of_state_changes_leaves_figures_equal_to_the_final_states(settings, stores) -> None:
    store, redis_sink, client = stores
    keys = keys_for(settings)

    @hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(histories(), st.integers(1, 5))
    def check(states: list[dict[str, Any]], batch: int) -> None:
        store.clear()
        clear_redis(client, keys)
        for i in range(0, len(states), batch):
            store.write(states[i : i + batch])
            redis_sink.write(states[i : i + batch])
        final = _final(states)
        rows = [report_row(s, store.sectors) for s in final.values()]
        for dim in ("unit", "channel", "status", "timeliness", "field", "month"):
            key = "received_on" if dim == "month" else dim
            want = Counter(
                (r[key].strftime("%Y-%m") if dim == "month" else r[key]) for r in rows if r[key] is not None
            )
            got = {r[dim]: r["dossiers"] for r in store.figures(Filters(), [dim]) if r[dim] != "-"}
            assert got == dict(want), dim
        by_source = Counter(s for r in rows for s in r["judged"])
        assert {r["source"]: r["dossiers"] for r in store.figures(Filters(), ["source"])} == dict(by_source)
        # Members: the list behind a figure has as many rows as the figure.
        for unit in UNITS:
            f = Filters(units=(unit,), timeliness=("OPEN", "OPEN_OVERDUE"))
            total = store.figures(f, [])[0]["dossiers"]
            assert len(list(store.members(f))) == total
        # Redis's live figures: the same recount.
        want_dims = Counter(d for s in final.values() for d in dimensions(state_json(s)))
        got_dims = {k.decode(): int(v) for k, v in client.hgetall(keys.stats).items() if int(v)}
        assert got_dims == dict(want_dims)

    check()


def _run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings_env(settings)}
    return subprocess.run(
        [sys.executable, "-m", "dongbo", *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT,
        timeout=300,
    )  # fmt: skip


def _report_sink(settings: Settings, tmp_path: Path) -> subprocess.Popen[bytes]:
    log = tmp_path / "report-sink.log"
    proc = start_sink(settings, log, "report")
    wait_ready(proc, log, mark=SINK_READY_MARK)
    return proc


def _caught_up(settings: Settings) -> None:
    names = topics_for(settings)
    inputs = [names.source(s) for s in SOURCE_SYSTEMS] + [names.events]
    assert wait_caught_up(settings, settings.worker.app_id, inputs, timeout=300) == 0
    for group in (redis_sink_group(settings), sink_group(settings, "report")):
        assert wait_caught_up(settings, group, [names.state], timeout=300) == 0


def _figures(settings: Settings) -> dict[str, Any]:
    store = open_store(settings)
    try:
        return {
            dim: store.figures(Filters(), [dim])
            for dim in ("unit", "procedure", "field", "channel", "source", "status", "outcome", "month")
        }
    finally:
        store.conn.close()


def merged_city(settings: Settings, worker: Any, tmp_path: Path, config: Any = CONFIG) -> None:
    """A simulated city through the worker, the Redis and the reporting sinks, to the end."""
    run_simulation(settings, config, truth_path=tmp_path / "truth.jsonl")
    handle = worker()
    sink = _report_sink(settings, tmp_path)
    try:
        _caught_up(settings)
    finally:
        sink.terminate()
        sink.wait(30)
    handle.stop()


def test_simulated_city_verifies_loses_its_stores_and_rebuilds_the_same(settings, worker, tmp_path) -> None:
    merged_city(settings, worker, tmp_path)

    ok = _run_cli(settings, "stats", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    before = _figures(settings)
    assert sum(r["dossiers"] for r in before["unit"]) > 100

    # The indicators against the simulator's truth: the online rate exactly, and every ended
    # dossier's legal outcome per unit.
    truths = [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text().splitlines()]
    store = open_store(settings)
    try:
        present = {r["dossier_id"] for r in store.members(Filters(), ("dossier_id",))}
        truth = [t for t in truths if t["dossier_id"] in present]
        assert len(truth) == len(present)
        online = next(r for r in store.indicator(_ind("3.3"), Filters(), []) if r["judged_by"] == "legal")
        assert (online["dossiers"], online["counted"]) == (
            len(truth),
            sum(t["channel"] == "ONLINE" for t in truth),
        )
        ended = Filters(timeliness=("ON_TIME", "ENDED_EARLY", "OVERDUE", "ENDED_NO_DUE"))
        got = {r["outcome"]: r["dossiers"] for r in store.figures(ended, ["outcome"])}
        assert got == dict(Counter(t["outcome"] for t in truth if t["ended_at"]))
        # Per unit, exactly: a system still sending a unit's pre-merger code (the unit_remap fault)
        # counts under the unit that holds the code today.
        by_unit = Counter((r["unit"], r["timeliness"]) for r in store.members(ended))
        want = Counter((t["unit_code"], t["outcome"]) for t in truth if t["ended_at"])
        assert any(f["kind"] == "unit_remap" for t in truth for f in t["faults"])

        # The 766 indicators read from the systems' attributes, recounted from the truth over the
        # dossiers a system reported them for.
        rows = {r["dossier_id"]: r for r in store.members(Filters())}

        def legal_line(indicator_id: str) -> tuple[int, int]:
            line = next(
                r for r in store.indicator(_ind(indicator_id), Filters(), []) if r["judged_by"] == "legal"
            )
            return line["dossiers"], line["counted"]

        fee = [t for t in truth if rows[t["dossier_id"]]["paid_online"] is not None]
        assert fee and all(t["paid_online"] is not None for t in fee)  # reported only where a fee applies
        assert legal_line("3.6") == (len(fee), sum(t["paid_online"] > 0 for t in fee))
        docs = [t for t in truth if (rows[t["dossier_id"]]["documents_total"] or 0) > 0]
        assert all(rows[t["dossier_id"]]["documents_total"] == t["documents"]["total"] for t in docs)
        assert legal_line("4.2") == (
            len(docs),
            sum(t["documents"]["digitised"] == t["documents"]["total"] for t in docs),
        )
        assert legal_line("4.3") == (len(docs), sum(t["documents"]["reused"] > 0 for t in docs))
        ended_listed, counted = legal_line("4.1")  # as the portal lists them: never more than exist
        assert 0 < counted <= min(ended_listed, sum(1 for t in truth if t["ended_at"] and t["result_files"]))
        assert by_unit == want
    finally:
        store.conn.close()

    # A row changed behind the sink's back, and a row with no state: both named.
    tampered = open_store(settings)
    victim = sorted(present)[0]
    with tampered.conn.transaction():
        tampered.conn.execute("UPDATE dossiers SET unit = 'NOWHERE' WHERE dossier_id = %s", (victim,))
        tampered.conn.execute(  # a copy of its row under an id no state has
            'INSERT INTO dossiers SELECT (jsonb_populate_record(d, \'{"dossier_id": "GHOST-1"}\')).* '
            "FROM dossiers d WHERE dossier_id = %s",
            (victim,),
        )
    tampered.conn.close()
    found = verify(settings, print)
    assert f"report: {victim} differs in unit" in "\n".join(found.problems)
    assert "report: GHOST-1 is stored but has no state on the topic" in found.problems

    # Both stores lost: verify fails loudly, rebuild restores the very same figures.
    lost = open_store(settings)
    lost.clear()
    lost.conn.close()
    clear_redis(Redis.from_url(settings.redis.url), keys_for(settings))
    failed = _run_cli(settings, "stats", "verify")
    assert failed.returncode == 1 and "is missing" in failed.stdout, failed.stdout[-2000:]
    assert rebuild(settings, print) == len(present)
    assert verify(settings, print).ok
    assert _figures(settings) == before


def _ind(indicator_id: str) -> Any:
    from sinks.report.indicators import get_indicator

    return get_indicator(indicator_id)


def _wabo_recount() -> Counter[tuple[str, str, str]]:
    """(department, channel, on_time|overdue|open) per case, straight from the raw CSV: ended when it
    has an end date, late when that end is after its deadline."""
    cases: dict[str, tuple[str, str, str, str]] = {}
    with open(CSV_PATH, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            cases[row["case:concept:name"]] = (
                row["case:department"], row["case:channel"], row["case:enddate"], row["case:deadline"]
            )  # fmt: skip
    out: Counter[tuple[str, str, str]] = Counter()
    for dept, channel, end, deadline in cases.values():
        if not end:
            verdict = "open"
        else:
            late = datetime.fromisoformat(end) > datetime.fromisoformat(deadline)
            verdict = "overdue" if late else "on_time"
        out[(dept, channel, verdict)] += 1
    return out


def test_wabo_figures_equal_a_recount_of_the_raw_log(settings, worker, tmp_path) -> None:
    assert CSV_PATH.is_file(), f"the WABO log is missing at {CSV_PATH}: set DONGBO_SHARED_DATA"
    handle = worker()
    sink = _report_sink(settings, tmp_path)
    try:
        mapping = load_mapping("wabo-receipt")
        report = import_to_kafka(ImportJob(path=CSV_PATH, fmt="csv", mapping=mapping), settings)
        assert len(report.dossiers) == 1434
        _caught_up(settings)
    finally:
        sink.terminate()
        sink.wait(30)
    handle.stop()

    # Departments and channels named as the mapping names them (a recount of the file, not of dongbo).
    want: Counter[tuple[str, str, str]] = Counter()
    for (dept, channel, verdict), n in _wabo_recount().items():
        want[(str(mapping.unit_for(dept)), str(mapping.channel_for(channel)), verdict)] += n
    verdicts = {"ON_TIME": "on_time", "ENDED_EARLY": "on_time", "OVERDUE": "overdue", "OPEN": "open",
                "OPEN_OVERDUE": "open"}  # fmt: skip
    out = _run_cli(settings, "stats", "--judged-by", "wabo", "--by", "unit", "--by", "channel", "--by",
                   "outcome", "--format", "json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    got: Counter[tuple[str, str, str]] = Counter()
    for r in json.loads(out.stdout):
        got[(r["unit"], r["channel"], verdicts[r["outcome"]])] += r["dossiers"]
    assert got == want

    overdue = sum(n for (_d, _c, v), n in want.items() if v == "overdue")
    export = _run_cli(settings, "export", "--judged-by", "wabo", "--outcome", "overdue", "-o",
                      str(tmp_path / "overdue.csv"))  # fmt: skip
    assert export.returncode == 0, export.stderr
    with open(tmp_path / "overdue.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == overdue
    assert {r["wabo: kết quả theo hệ thống"] for r in rows} == {"Quá hạn"}

    # The same list as XLSX opens in LibreOffice (Debian's, headless) with the same rows.
    xlsx = tmp_path / "overdue.xlsx"
    export = _run_cli(settings, "export", "--judged-by", "wabo", "--outcome", "overdue", "-o", str(xlsx))
    assert export.returncode == 0, export.stderr
    converted = subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{tmp_path}/lo-profile", "--headless",
         # CSV filter options: comma, double quotes, UTF-8 (76), from the first line.
         "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1",
         "--outdir", str(tmp_path / "lo"), str(xlsx)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert converted.returncode == 0, converted.stderr
    with open(tmp_path / "lo" / "overdue.csv", encoding="utf-8", newline="") as fh:
        sheet = list(csv.reader(fh))
    assert sheet[0][0] == "Mã hồ sơ" and len(sheet) - 1 == overdue
    assert sorted(r[0] for r in sheet[1:]) == sorted(r["Mã hồ sơ"] for r in rows)


def test_usage_errors_say_what_to_do_and_exit_2(settings, stores) -> None:
    store, _sink, _client = stores
    store.write([{**_state_example(), "unit_code": "U1"}])
    cases = [
        (["stats", "--unit", "NOPE"], "no dossier has unit 'NOPE'"),
        (["stats", "--from", "2026-03-10", "--to", "2026-03-01"], "inverted"),
        (["stats", "--from", "10/03/2026"], "YYYY-MM-DD"),
        (["stats", "--indicator", "9.9"], "no indicator '9.9'"),
        (["stats", "--by", "colour"], "--by 'colour'"),
        (["stats", "--outcome", "lost"], "--outcome 'lost'"),
        (["export", "-o", "/tmp/x.pdf"], "--format 'pdf'"),
        (["reconcile", "--between", "portal"], "two different systems"),
        (["reconcile", "--between", "portal", "--between", "nowhere"], "'nowhere']; systems present"),
    ]
    for args, message in cases:
        res = _run_cli(settings, *args)
        assert res.returncode == 2, (args, res.stdout, res.stderr)
        assert message in res.stderr, (args, res.stderr)
    empty = _run_cli(settings, "stats", "--from", "2030-01-01")
    assert empty.returncode == 0 and "Không có hồ sơ nào" in empty.stdout
    assert json.loads(_run_cli(settings, "stats", "--from", "2030-01-01", "--format", "json").stdout) == []


def _state_example() -> dict[str, Any]:
    return {
        "dossier_id": "D-1", "version": 1, "status": "RECEIVED", "procedure_code": "1.001193",
        "unit_code": "U1", "channel": "ONLINE", "received_at": T0, "ended_at": None, "due_at": T0,
        "received_late": False, "alerts": [], "outcome": "PENDING", "updated_at": T0, "sources": {},
        "conflicts": [], "discrepancies": [],
    }  # fmt: skip
