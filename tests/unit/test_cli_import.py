"""``dongbo import`` through typer's CliRunner: dry runs on the real WABO log, usage errors, and
the publishing path with a stand-in publisher (no broker in unit tests)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from dongbo.cli import app
from streams.model import DossierEvent

SHARED = Path(os.environ.get("DONGBO_SHARED_DATA") or Path(__file__).parents[2].parent / "shared" / "data")
WABO = SHARED / "wabo-receipt"


@pytest.fixture
def wabo_data() -> None:
    """The real log is part of the test data (CI has it too): missing is a failure, not a skip."""
    if not (WABO / "receipt.csv").is_file():
        pytest.fail(f"the WABO log is not at {WABO}: set DONGBO_SHARED_DATA to the shared data folder")


needs_wabo = pytest.mark.usefixtures("wabo_data")
runner = CliRunner()


def _run(*args: str) -> Any:
    return runner.invoke(app, ["import", *args], catch_exceptions=False)


@pytest.fixture(autouse=True)
def no_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dry run must never build a producer: make any attempt fail loudly."""

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("a dry run talked to Kafka")

    monkeypatch.setattr("producers.publisher.Publisher", refuse)
    monkeypatch.setattr("contract.topics.ensure_topics", refuse)


@needs_wabo
@pytest.mark.parametrize("name", ["receipt.csv", "receipt.xes.gz"])
def test_dry_run_of_the_wabo_log(name: str) -> None:
    result = _run(
        str(WABO / name), "--mapping", "wabo-receipt", "--dry-run", "--json", "--progress-every", "0"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["format"] == name.split(".")[1]  # csv / xes, detected from the name
    assert (summary["rows_read"], summary["events"], summary["dossiers"]) == (8577, 11340, 1434)
    assert summary["rows_skipped"] == 0 and summary["topic"] is None and summary["published"] == 0
    assert summary["source"] == "wabo"
    assert result.stderr == ""


@needs_wabo
def test_text_summary_progress_and_limit() -> None:
    result = _run(str(WABO / "receipt.csv"), "-m", "wabo-receipt", "--dry-run", "--limit", "250",
                  "--progress-every", "100", "--source", "wabo-test")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "rows read             250" in result.stdout
    assert "dry run: nothing sent to Kafka" in result.stdout
    assert "source wabo-test" in result.stdout
    progress = [line for line in result.stderr.splitlines() if line.startswith("import csv:")]
    assert [line.split(",")[0] for line in progress] == [
        "import csv: 100 rows",
        "import csv: 200 rows",
        "import csv: 250 rows",
    ]


@needs_wabo
def test_output_is_a_dossier_events_file_that_imports_back(tmp_path: Path) -> None:
    out = tmp_path / "wabo.jsonl"
    first = _run(str(WABO / "receipt.xes.gz"), "-m", "wabo-receipt", "--dry-run", "-o", str(out), "--json")
    assert first.exit_code == 0, first.output
    again = _run(str(out), "--dry-run", "--json", "--source", "wabo")
    assert again.exit_code == 0, again.output
    a, b = json.loads(first.stdout), json.loads(again.stdout)
    assert (b["format"], b["rows_read"], b["events"], b["dossiers"]) == ("dossier-events", 11340, 11340, 1434)
    assert a["by_status"] == b["by_status"]


def test_skipped_rows_are_shown_with_examples_and_do_not_fail(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    good = {"source": "s", "source_event_id": "1", "dossier_id": "D", "status": "RECEIVED",
            "occurred_at": "2025-11-25T09:00:00+07:00"}  # fmt: skip
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "status": "NOPE"}) + "\n{oops\n")
    result = _run(str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "bad_field" in result.stdout and "e.g. line 2: status 'NOPE'" in result.stdout
    assert "invalid_json" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere.csv", "-m", "wabo-receipt"], "no such file"),
        (["{csv}"], "needs --mapping"),
        (["{csv}", "-m", "nope"], "no such mapping file"),
        (["{csv}", "-m", "{bad_mapping}"], "statuses[0].status"),
        (["{txt}"], "--format must be one of"),
        (["{csv}", "-f", "xlsx", "-m", "wabo-receipt"], "--format must be one of"),
    ],
)
def test_usage_errors_exit_2_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    files = {"csv": tmp_path / "a.csv", "txt": tmp_path / "a.txt", "bad_mapping": tmp_path / "m.yaml"}
    files["csv"].write_text("case,activity,time\n")
    files["txt"].write_text("")
    files["bad_mapping"].write_text(
        "columns: {case_id: case, activity: activity, timestamp: time}\n"
        "statuses: [{activity: x, status: DONE}]\n"
    )
    result = _run(*[a.format(**{k: str(v) for k, v in files.items()}) for a in args], "--dry-run")
    assert result.exit_code == 2
    assert message in result.stderr, result.stderr


def test_a_csv_that_lacks_the_mapped_columns_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("case,activity,time\n")
    result = _run(str(path), "-m", "wabo-receipt", "--dry-run")
    assert result.exit_code == 2 and "no column 'case:concept:name'" in result.stderr


class FakePublisher:
    """Stands in for ``producers.publisher.Publisher``: records what would be produced."""

    instances: ClassVar[list[FakePublisher]] = []

    def __init__(self, settings: Any) -> None:
        self.sent: list[tuple[str, DossierEvent]] = []
        self.delivered = 0
        FakePublisher.instances.append(self)

    def send_event(self, event: DossierEvent, topic: str | None = None) -> None:
        assert topic is not None
        self.sent.append((topic, event))

    def __enter__(self) -> FakePublisher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.delivered = len(self.sent)  # what a successful flush would report


@pytest.mark.parametrize(("flag", "topic"), [([], "src.import.dossier"), (["--direct"], "dossier.events")])
def test_publishing_goes_to_the_import_topic_or_directly_to_dossier_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: list[str], topic: str
) -> None:
    FakePublisher.instances.clear()
    created: list[bool] = []
    monkeypatch.setattr("producers.publisher.Publisher", FakePublisher)

    def ensure_topics(settings: Any) -> list[str]:
        created.append(True)
        return []

    monkeypatch.setattr("contract.topics.ensure_topics", ensure_topics)
    path = tmp_path / "events.jsonl"
    lines = [
        {
            "source": "s",
            "source_event_id": str(i),
            "dossier_id": f"D{i % 3}",
            "status": "RECEIVED",
            "occurred_at": "2025-11-25T09:00:00+07:00",
        }
        for i in range(7)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = _run(str(path), "--json", *flag)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["published"] == 7 and summary["topic"] == topic and created == [True]
    (pub,) = FakePublisher.instances
    assert [t for t, _ in pub.sent] == [topic] * 7
    assert [e.source_event_id for _, e in pub.sent] == [str(i) for i in range(7)]
