"""The coverage-guided fuzzer (``tests/fuzz/harness.py``, atheris) run for a few seconds per target
in every test run: no input it reaches crashes a decoder, a normaliser, the merge engine or an
importer. ``make fuzz`` runs the same targets for longer (``FUZZ_SECONDS``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.harness import TARGETS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_coverage_guided_fuzzer_finds_no_crash(target: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.harness", target, "-max_total_time=8",
         f"-artifact_prefix={tmp_path}/"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    crashes = sorted(p.name for p in tmp_path.glob("crash-*"))
    assert done.returncode == 0 and not crashes, f"{target}: {crashes}\n{done.stderr[-3000:]}"
    assert "DONE" in done.stderr  # libFuzzer ran its course (not an import error before it)
