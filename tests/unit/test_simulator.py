"""The city simulator: deterministic, every record usable, faults as declared, truth as the domain says.

Two runs are shared by most tests (module fixtures): one with every fault kind at its ``all``
rate over the New Year holidays and the make-up Saturday of 10 Jan 2026 (so calendar faults can
show), and one without faults, where every system must tell the true story.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from contract.settings import Settings
from dongbo.cli import app
from producers.simulator import FAULT_KINDS, SimulationConfig, fault_preset, run_simulation
from producers.simulator.city import load_city
from producers.simulator.config import NO_FAULTS, setting_names, with_settings
from producers.simulator.sinks import OutRecord, read_records
from producers.simulator.vocab import SYSTEMS, Step, canonical, expected_view
from streams.domain.catalogue_io import cached_catalogue
from streams.domain.deadlines import PauseSpan, compute_due, judge_outcome
from streams.domain.policy import DEFAULT_POLICY
from streams.domain.units import calendar_for
from streams.model import STAGE, VN_TZ, Channel, Status
from streams.normalise import normalise

SETTINGS = Settings()
ALL_START = date(2025, 12, 29)  # New Year's Day, the swapped 2 Jan and the make-up Saturday 10 Jan


def simulate(tmp: Path, config: SimulationConfig) -> tuple[list[dict[str, Any]], Path]:
    out = tmp / "out"
    run_simulation(SETTINGS, config, truth_path=tmp / "truth.jsonl", out=out)
    truth = [json.loads(line) for line in (tmp / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    return truth, out


def all_records(out: Path) -> list[OutRecord]:
    return [rec for system in SYSTEMS for rec in read_records(out, system)]


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    config = SimulationConfig(seed=11, dossiers=2000, days=10, start=ALL_START, faults=fault_preset("all"))
    return simulate(tmp_path_factory.mktemp("faulty"), config)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    config = SimulationConfig(seed=5, dossiers=1500, days=4, tail_days=10, faults=fault_preset("none"))
    return simulate(tmp_path_factory.mktemp("clean"), config)


def at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


# --- determinism -------------------------------------------------------------------------------


def files_of(tmp: Path) -> dict[str, bytes]:
    return {str(p.relative_to(tmp)): p.read_bytes() for p in sorted(tmp.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_records_and_truth(tmp_path: Path) -> None:
    config = SimulationConfig(seed=3, dossiers=300, days=2, faults=fault_preset("all"))
    simulate(tmp_path / "a", config)
    simulate(tmp_path / "b", config)
    a, b = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    assert set(a) >= {"truth.jsonl", "truth.jsonl.summary.json", "out/src.portal.dossier.jsonl"}
    summaries = [json.loads(x.pop("truth.jsonl.summary.json")) for x in (a, b)]
    assert a == b
    assert [{k: v for k, v in s.items() if k != "destination"} for s in summaries] == [
        {k: v for k, v in summaries[0].items() if k != "destination"}
    ] * 2


def test_another_seed_gives_another_city(tmp_path: Path) -> None:
    simulate(tmp_path / "a", SimulationConfig(seed=3, dossiers=200))
    simulate(tmp_path / "b", SimulationConfig(seed=4, dossiers=200))
    assert files_of(tmp_path / "a")["truth.jsonl"] != files_of(tmp_path / "b")["truth.jsonl"]
    assert (
        files_of(tmp_path / "a")["out/src.onestop.dossier.jsonl"]
        != files_of(tmp_path / "b")["out/src.onestop.dossier.jsonl"]
    )


def test_one_rate_changes_only_its_own_faults(tmp_path: Path) -> None:
    """Sub-streams per purpose: without duplicates, everything else is exactly as before."""
    base = SimulationConfig(seed=8, dossiers=400, days=2, faults=fault_preset("all"))
    with_dups, _ = simulate(tmp_path / "a", base)
    without, _ = simulate(tmp_path / "b", replace(base, faults=replace(base.faults, duplicate=0.0)))

    def strip(t: dict[str, Any]) -> dict[str, Any]:
        return {**t, "faults": [f for f in t["faults"] if f["kind"] != "duplicate"]}

    assert any(f["kind"] == "duplicate" for t in with_dups for f in t["faults"])
    assert [strip(t) for t in with_dups] == without


# --- every record is usable --------------------------------------------------------------------


def test_every_record_normalises_to_its_dossier(faulty: tuple[list[dict[str, Any]], Path]) -> None:
    truth, out = faulty
    by_id = {t["dossier_id"]: t for t in truth}
    ingested = datetime(2027, 1, 1, tzinfo=VN_TZ)  # long after the run: no record is "from the future"
    seen: Counter[str] = Counter()
    for rec in all_records(out):
        event = normalise(rec.system, rec.value, ingested)
        t = by_id[rec.key]
        assert event.dossier_id == rec.key and event.source == rec.system
        assert rec.system in t["systems"]
        assert rec.headers == {
            "event_type": f"{_schema(rec.system)}",
            "source": rec.system,
            "captured_at": rec.deliver_at.isoformat(),  # the send moment is the capture time
        }
        assert event.status is canonical(rec.system, event.source_status or "")
        assert event.channel.value == t["channel"]
        assert event.procedure_code == t["procedure_code"]
        remapped = {
            f["old_code"] for f in t["faults"] if f["kind"] == "unit_remap" and f["system"] == rec.system
        }
        assert event.unit_code in {t["unit_code"], *remapped}
        skew = sum(
            f["minutes"] for f in t["faults"] if f["kind"] == "clock_skew" and f["system"] == rec.system
        )
        true_times = {at(e["at"]) for e in t["lifecycle"]}
        assert event.occurred_at - timedelta(minutes=skew) in true_times
        assert event.applicant_ref and len(event.applicant_ref) == 32  # a pseudonym, never the number
        seen[rec.system] += 1
    assert set(seen) == set(SYSTEMS)


def _schema(system: str) -> str:
    from contract.sources import RAW_SCHEMAS

    return RAW_SCHEMAS[system]


def test_no_personal_data_leaves_the_simulator(faulty: tuple[list[dict[str, Any]], Path]) -> None:
    _, out = faulty
    blob = b"".join(r.value for r in all_records(out)[:3000])
    for name in ("Nguyễn", "Trần", "Phạm"):
        assert name.encode() not in blob


# --- faults ------------------------------------------------------------------------------------


def test_all_faults_cover_every_kind(faulty: tuple[list[dict[str, Any]], Path]) -> None:
    truth, _ = faulty
    kinds = Counter(f["kind"] for t in truth for f in t["faults"])
    print("faults per kind (2,000 dossiers, --faults all):", dict(sorted(kinds.items())))
    assert {k for k in FAULT_KINDS if kinds[k] == 0} == set()
    for t in truth:
        for f in t["faults"]:
            assert f["system"] in t["systems"]


def test_fault_records_carry_their_specifics(faulty: tuple[list[dict[str, Any]], Path]) -> None:
    truth, _ = faulty
    required = {
        "sync_lag": {"from_seq", "delay_minutes", "records", "status"},
        "lost_sync": {"seq", "status", "source_status", "at"},
        "duplicate": {"seq", "status", "resent_after_seconds"},
        "reorder": {"seq", "overtaken_by_seq", "statuses"},
        "clock_skew": {"minutes"},
        "calendar_missing_holiday": {"day", "name", "legal_due_at", "source_due_at"},
        "calendar_missing_makeup_day": {"day", "name", "legal_due_at", "source_due_at"},
        "missed_pause": {"pause", "legal_due_at", "source_due_at"},
        "appointment_changed": {"at", "shift_working_days", "previous_due_at", "new_due_at"},
        "unit_remap": {"old_code", "new_code"},
    }
    city = load_city()
    for t in truth:
        for f in t["faults"]:
            assert required[f["kind"]] <= set(f), f
            if f["kind"] == "unit_remap":
                assert city.current_code(f["old_code"]) == f["new_code"] == t["unit_code"]
            alone = [
                g for g in t["faults"] if g["system"] == f["system"] and g["kind"].startswith("calendar")
            ]
            if f["kind"] == "calendar_missing_holiday" and len(alone) == 1:  # counts the holiday: too early
                assert at(f["source_due_at"]) < at(f["legal_due_at"])  # type: ignore[operator]
            if f["kind"] == "calendar_missing_makeup_day" and len(alone) == 1:  # closed that Saturday: late
                assert at(f["source_due_at"]) > at(f["legal_due_at"])  # type: ignore[operator]
            if f["kind"] == "missed_pause" and not alone:  # (a wrong calendar may move it either way)
                assert at(f["source_due_at"]) <= at(f["legal_due_at"])  # type: ignore[operator]


def test_lost_records_are_absent_and_duplicates_repeat(faulty: tuple[list[dict[str, Any]], Path]) -> None:
    truth, out = faulty
    ids: dict[tuple[str, str], list[int]] = defaultdict(list)
    ingested = datetime(2027, 1, 1, tzinfo=VN_TZ)
    for rec in all_records(out):
        ids[(rec.system, rec.key)].append(normalise(rec.system, rec.value, ingested).source_seq or 0)
    for t in truth:
        for f in t["faults"]:
            seqs = ids[(f["system"], t["dossier_id"])]
            if f["kind"] == "lost_sync" and f["system"] != "civil":  # civil has no sequence numbers
                assert f["seq"] not in seqs
            if f["kind"] == "duplicate" and f["system"] != "civil":
                assert seqs.count(f["seq"]) >= 2


def test_rate_zero_means_no_fault(tmp_path: Path) -> None:
    truth, _ = simulate(tmp_path / "none", SimulationConfig(seed=2, dossiers=300, faults=NO_FAULTS))
    assert all(t["faults"] == [] for t in truth)
    config = SimulationConfig(
        seed=2, dossiers=300, start=ALL_START, days=10, faults=replace(fault_preset("all"), lost_sync=0.0)
    )
    truth, _ = simulate(tmp_path / "one", config)
    kinds = Counter(f["kind"] for t in truth for f in t["faults"])
    assert kinds["lost_sync"] == 0 and kinds["duplicate"] > 0


# --- without faults, every system tells the truth ----------------------------------------------


def test_without_faults_every_system_shows_the_true_status(clean: tuple[list[dict[str, Any]], Path]) -> None:
    truth, _ = clean
    checked = 0
    for t in truth:
        steps = [Step(e["step"]) for e in t["lifecycle"]]
        final = Status(t["lifecycle"][-1]["status"])
        for system, status in t["source_status"].items():
            assert Status(status) is expected_view(system, steps), (t["dossier_id"], system)
            assert STAGE[Status(status)] == STAGE[final]
            if t["ended_at"] is not None:
                assert Status(status) is final  # an ended dossier reads the same everywhere
            checked += 1
        held = [s for s in t["systems"] if expected_view(s, steps) is not None]
        assert sorted(t["source_status"]) == sorted(held)
    assert checked > 3000


def test_without_faults_due_dates_and_flags_agree_with_the_law(
    clean: tuple[list[dict[str, Any]], Path],
) -> None:
    truth, _ = clean
    ended = 0
    for t in truth:
        dues = set(t["source_due_at"].values())
        assert len(dues) <= 1, (t["dossier_id"], t["source_due_at"])  # every system the same date
        if t["ended_at"] is None or t["received_at"] is None:
            continue
        ended += 1
        expected = t["extended_due_at"] or t["legal_due_at"]
        assert dues == {expected}, t["dossier_id"]
        for system, flag in t["source_overdue"].items():
            assert flag is (t["outcome"] == "OVERDUE"), (t["dossier_id"], system)
    assert ended > 500


def test_without_faults_each_system_sends_in_its_own_order_once(
    clean: tuple[list[dict[str, Any]], Path],
) -> None:
    _, out = clean
    ingested = datetime(2027, 1, 1, tzinfo=VN_TZ)
    for system in SYSTEMS:
        per: dict[str, list[datetime]] = defaultdict(list)
        event_ids: set[str] = set()
        for rec in read_records(out, system):
            event = normalise(system, rec.value, ingested)
            assert event.event_id not in event_ids
            event_ids.add(event.event_id)
            per[rec.key].append(event.occurred_at)
        for times in per.values():
            assert times == sorted(times)


# --- realism -----------------------------------------------------------------------------------


def test_arrivals_and_official_work_happen_in_plausible_hours(
    faulty: tuple[list[dict[str, Any]], Path],
) -> None:
    truth, _ = faulty
    desk_steps = {
        "RECEPTION",
        "ASSIGNMENT",
        "PROCESSING",
        "TRANSFER_OUT",
        "APPROVAL",
        "SIGNING",
        "RESULT_READY",
    }
    night = online = 0
    for t in truth:
        cal = calendar_for(t["unit_code"])
        submitted = at(t["submitted_at"])
        assert submitted is not None
        if t["channel"] == Channel.ONLINE:
            online += 1
            night += submitted.hour < 6
        else:  # a desk receives only when it is open
            assert cal.is_open(submitted), t["dossier_id"]
        for e in t["lifecycle"]:
            if e["step"] in desk_steps:
                assert cal.within_office_hours(at(e["at"])), (t["dossier_id"], e)  # type: ignore[arg-type]
        times = [at(e["at"]) for e in t["lifecycle"]]
        assert times == sorted(times)  # type: ignore[type-var]
    assert online > 300 and night / online < 0.06


def test_mix_is_plausible(faulty: tuple[list[dict[str, Any]], Path]) -> None:
    truth, _ = faulty
    channels = Counter(t["channel"] for t in truth)
    outcomes = Counter(t["outcome"] for t in truth)
    systems = Counter(s for t in truth for s in t["systems"])
    print("channels", dict(channels), "outcomes", dict(outcomes), "systems", dict(systems))
    assert channels["ONLINE"] > 0.25 * len(truth) and channels["COUNTER"] > 0.25 * len(truth)
    assert systems["onestop"] == systems["portal"] == len(truth)
    assert min(systems["civil"], systems["land"], systems["business"]) > 0
    assert outcomes["OVERDUE"] < 0.2 * len(truth)
    assert any(t["received_late"] for t in truth) and any(t["extended_due_at"] for t in truth)
    assert any(len([p for p in t["pauses"] if p["reason"] == "supplement"]) >= 2 for t in truth)
    assert any(p["reason"] == "financial_obligation" for t in truth for p in t["pauses"])
    assert any(e["step"] == "TRANSFER_OUT" for t in truth for e in t["lifecycle"])
    steps = Counter(t["lifecycle"][-1]["step"] for t in truth)
    assert {"RETURNED", "REJECTION", "WITHDRAWAL"} <= set(steps)


def test_legal_due_and_outcome_match_the_domain_computed_independently(
    faulty: tuple[list[dict[str, Any]], Path],
) -> None:
    truth, _ = faulty
    catalogue = cached_catalogue()
    end = datetime(ALL_START.year, ALL_START.month, ALL_START.day, tzinfo=VN_TZ) + timedelta(days=10)
    sample = random.Random(1).sample([t for t in truth if t["received_at"]], 300)
    for t in sample:
        received = at(t["received_at"])
        assert received is not None
        cal = calendar_for(t["unit_code"])
        version = catalogue.lookup(t["procedure_code"], received)
        assert version.valid_from.isoformat() == t["procedure_version"]
        pauses = [PauseSpan(at(p["start"]), at(p["end"]), p["reason"]) for p in t["pauses"]]  # type: ignore[arg-type]
        due = compute_due(
            received, version, cal, pauses, channel=t["channel"], complex_case=t["complex_case"]
        )
        assert due.due_at == at(t["legal_due_at"]), (t["dossier_id"], due.explain())
        assert due.receipt_at == at(t["receipt_effective_at"])
        outcome = judge_outcome(due.due_at, at(t["ended_at"]), end, DEFAULT_POLICY.early_margin, cal)
        assert outcome.value == t["outcome"], t["dossier_id"]


# --- configuration, city data, command line ----------------------------------------------------


def test_settings_by_dotted_path() -> None:
    config = with_settings(
        SimulationConfig(),
        {
            "lifecycle.supplement": "0.3",
            "faults.lost_sync": "0",
            "start": "2026-01-05",
            "workload.season": "1,2",
        },
    )
    assert config.lifecycle.supplement == 0.3 and config.faults.lost_sync == 0.0
    assert config.start == date(2026, 1, 5) and config.workload.season == (1.0, 2.0)
    assert "lags.portal_max_s=900.0" in setting_names()
    with pytest.raises(ValueError, match="unknown setting"):
        with_settings(SimulationConfig(), {"lifecycle.nope": "1"})
    with pytest.raises(ValueError, match="probability"):
        SimulationConfig(faults=replace(NO_FAULTS, duplicate=2.0))


def test_city_has_94_units_and_a_remap_for_the_2025_mergers() -> None:
    city = load_city()
    communal = [u for u in city.units.values() if u.role == "communal"]
    kinds = Counter(u.kind for u in communal)
    assert kinds == {"ward": 23, "commune": 70, "special_zone": 1}
    assert all(u.valid_from == date(2025, 7, 1) for u in communal)
    for old, new in city.remap.items():
        assert not city.units[old].valid_on(date(2026, 1, 1)) and city.units[new].valid_on(date(2026, 1, 1))
    assert city.current_code("000.01.06.H17") == "000.01.05.H17"  # business registration office, March 2025


def test_cli_dry_run_and_bad_settings() -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "simulate",
            "--dossiers",
            "40",
            "--dry-run",
            "--faults",
            "none",
            "--set",
            "lifecycle.supplement=0.5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "40 dossiers" in result.output and "faults: none" in result.output
    result = runner.invoke(app, ["simulate", "--dossiers", "5", "--dry-run", "--set", "bogus=1"])
    assert result.exit_code == 2


# --- performance (measured, printed, not asserted) ---------------------------------------------


def test_performance_20000_dossiers_to_files(tmp_path: Path) -> None:
    config = SimulationConfig(seed=1, dossiers=20_000, days=5)
    started = time.perf_counter()
    summary = run_simulation(SETTINGS, config, truth_path=tmp_path / "truth.jsonl", out=tmp_path / "out")
    elapsed = time.perf_counter() - started
    print(
        f"\nsimulator: {summary.dossiers:,} dossiers, {summary.records_total:,} records in {elapsed:.1f}s: "
        f"{summary.dossiers / elapsed:,.0f} dossiers/s, {summary.records_total / elapsed:,.0f} records/s"
    )
    assert summary.dossiers == 20_000 and summary.records_total > 100_000
