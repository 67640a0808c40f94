"""``dongbo calendar | catalogue | deadline`` through typer's CliRunner (no services needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dongbo.cli import app
from streams.domain.catalogue_io import load_catalogue

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    # rich draws error boxes and wraps long lines: compare on plain, single-spaced text
    text = re.sub(r"[│╭╮╰╯─]+", " ", result.output)
    return result.exit_code, re.sub(r"\s+", " ", text)


@pytest.fixture
def catalogue_dest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    dest = tmp_path / "installed" / "catalogue.yaml"
    monkeypatch.setenv("DONGBO_DOMAIN_CATALOGUE_PATH", str(dest))
    return dest


# -- deadline -----------------------------------------------------------------------------------


def test_deadline_json_across_tet() -> None:
    result = runner.invoke(
        app,
        ["deadline", "--received", "2026-02-12T09:00", "--limit", "3", "--unit", "working_days", "--json"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["due_at"] == "2026-02-24T09:00:00+07:00"
    assert doc["limit"] == {"value": 3, "unit": "working_days"}


def test_deadline_explains_pauses_and_skipped_days() -> None:
    code, out = run(
        "deadline", "--received", "2026-03-02T09:00", "--limit", "5", "--unit", "WORKING_DAYS",
        "--pause", "2026-03-03T09:00/2026-03-06T10:00",
    )  # fmt: skip
    assert code == 0, out
    assert "(3 working days 1 h)" in out and "due: Thu 12/03/2026 10:00" in out


def test_deadline_from_the_catalogue_and_complex_case() -> None:
    code, out = run(
        "deadline", "--received", "2026-03-02T09:00+07:00", "--procedure", "2.000488", "--complex"
    )
    assert code == 0, out
    assert "15 working days" in out and "due: Mon 23/03/2026 09:00" in out


def test_deadline_online_and_other_offsets() -> None:
    code, out = run(
        "deadline", "--received", "2026-03-10T03:00Z", "--limit", "1", "--unit", "working_hours",
        "--channel", "online", "--json",
    )  # fmt: skip
    assert code == 0, out
    assert '"due_at": "2026-03-11T08:30:00+07:00"' in out  # 10:00 in Vietnam, online: from Wed 07:30


def test_deadline_open_pause() -> None:
    args = ["deadline", "--received", "2026-03-02T09:00", "--limit", "5", "--unit", "working_days"]
    code, out = run(*args, "--pause", "2026-03-03T09:00/")
    assert code == 0 and "due unknown" in out and "give --now" in out
    code, out = run(*args, "--pause", "2026-03-03T09:00/", "--now", "2026-03-05T09:00")
    assert code == 0 and "due: Wed 11/03/2026 09:00 +07:00 (provisional" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--received", "12/02/2026", "--limit", "3", "--unit", "days"], "expected ISO 8601 like 2026-03-09"),
        (["--received", "2026-02-12T09:00"], "give --limit and --unit"),
        (["--received", "2026-02-12T09:00", "--limit", "3", "--unit", "weeks"], "--unit"),
        (["--received", "2026-02-12T09:00", "--limit", "2.5", "--unit", "days"], "whole numbers"),
        (["--received", "2026-02-12T09:00", "--limit", "3", "--unit", "days", "--pause", "2026-02-13"],
         "expected START/END"),
        (["--received", "2026-02-12T09:00", "--limit", "3", "--unit", "days", "--pause",
          "2026-02-13T10:00/2026-02-13T09:00"], "ends before it starts"),
    ],
)  # fmt: skip
def test_deadline_errors_say_what_to_do(args: list[str], message: str) -> None:
    code, out = run("deadline", *args)
    assert code == 2 and message in out, out


def test_deadline_unknown_procedure() -> None:
    code, out = run("deadline", "--received", "2026-02-12T09:00", "--procedure", "9.999")
    assert code == 2 and "not in the catalogue" in out


# -- calendar -----------------------------------------------------------------------------------


def test_calendar_show_lists_swaps_with_reasons() -> None:
    code, out = run("calendar", "show", "2026")
    assert code == 0, out
    assert "Fri 02/01/2026 day off (swap) Nghỉ hoán đổi Tết Dương lịch" in out
    assert "Sat 10/01/2026 make-up working day Làm bù cho thứ Sáu 02/01/2026" in out
    assert "Tue 17/02/2026 holiday Tết Nguyên Đán" in out
    assert "not verified" in out  # the 2026 National Day swap
    assert "250 working days in 2026" in out


def test_calendar_show_for_a_saturday_unit_and_bad_year() -> None:
    code, out = run("calendar", "show", "2026", "--unit-code", "EXAMPLE.SAT.WARD")
    assert code == 0 and "Saturday 07:30–11:30" in out
    code, out = run("calendar", "show", "1800")
    assert code == 1 and "outside the calendar's range" in out


# -- catalogue ----------------------------------------------------------------------------------


def test_catalogue_show() -> None:
    code, out = run("catalogue", "show", "2.000488")
    assert code == 0 and "01/07/2025–…: 10 working days (15 working days" in out
    result = runner.invoke(app, ["catalogue", "show", "1.012780", "--json"])
    doc = json.loads(result.output)
    assert doc["versions"][0]["pause_on"] == ["FINANCIAL_OBLIGATION", "SUPPLEMENT_REQUESTED"]
    code, out = run("catalogue", "show", "0.000000")
    assert code == 2 and "catalogue load" in out


def test_catalogue_load_installs_a_csv_as_yaml(tmp_path: Path, catalogue_dest: Path) -> None:
    src = tmp_path / "mine.csv"
    src.write_text(
        "code,name,name_en,valid_from,unit,limit\nZ.1,Thủ tục Z,Z procedure,2025-01-01,working_days,4\n",
        encoding="utf-8",
    )
    code, out = run("catalogue", "load", str(src), "--dry-run")
    assert code == 0 and "not installed" in out and not catalogue_dest.exists()
    code, out = run("catalogue", "load", str(src))
    assert code == 0 and f"installed 1 procedures, 1 versions to {catalogue_dest}" in out
    assert load_catalogue(catalogue_dest).lookup("Z.1", load_catalogue(src).get("Z.1").versions[0].valid_from)
    code, out = run("catalogue", "show", "Z.1")
    assert code == 0 and "Thủ tục Z" in out


def test_catalogue_load_refuses_a_bad_file_and_installs_nothing(tmp_path: Path, catalogue_dest: Path) -> None:
    src = tmp_path / "bad.yaml"
    src.write_text(
        'procedures:\n  - code: "A"\n    name: "A"\n    versions:\n      - {valid_from: 2025-01-01}\n'
    )
    code, out = run("catalogue", "load", str(src))
    assert code == 2, out
    assert "bad.yaml:5:" in out and "unit: is required" in out and "nothing was installed" in out
    assert not catalogue_dest.exists()
    code, out = run("catalogue", "load", str(tmp_path / "missing.csv"))
    assert code == 1 and "does not exist" in out


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (["deadline"], "legal due time"),
        (["calendar", "show"], "make-up working Saturdays"),
        (["catalogue", "load"], "Validate a catalogue file"),
        (["catalogue", "show"], "every version"),
        (["calendar"], "business calendar"),
        (["catalogue"], "procedure catalogue"),
    ],
)
def test_every_command_has_help(command: list[str], words: str) -> None:
    code, out = run(*command, "--help")
    assert code == 0 and words in out


def test_policy_settings_reach_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["deadline", "--received", "2026-03-09T15:30", "--limit", "0", "--unit", "same_day"]
    assert "due: Tue 10/03/2026 17:00" in run(*args)[1]
    monkeypatch.setenv("DONGBO_DOMAIN_SAME_DAY_CUTOFF", "16:00")
    assert "due: Mon 09/03/2026 17:00" in run(*args)[1]
    monkeypatch.setenv("DONGBO_DOMAIN_SAME_DAY_CUTOFF", "3pm")
    code, out = run(*args)
    assert code == 1 and "DONGBO_DOMAIN_* setting is not valid" in out and "same_day_cutoff" in out
