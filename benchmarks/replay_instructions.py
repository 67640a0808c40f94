"""The merge engine's cost in CPU instructions: a replay of a small simulated city under valgrind.

Time on this machine (a VM whose CPU time varies by ±25 % between runs) cannot show a 5 % change;
the number of instructions executed can: it does not depend on what else runs. Each revision's
replay is counted twice, once importing and building the policy only and once replaying too, so
the figure is the replay's own (``PYTHONHASHSEED`` fixed: set iteration orders repeat).

    .venv/bin/python benchmarks/replay_instructions.py                  # the working tree
    .venv/bin/python benchmarks/replay_instructions.py --against HEAD~3 # and a revision, same records

Needs ``valgrind`` (Debian package). About a minute per revision for the default 200 dossiers.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """
import sys
from pathlib import Path
from contract.settings import Settings
from dongbo.replay import replay
from streams.configured import worker_policy
settings = Settings()
policy = worker_policy(settings)
if sys.argv[1] != "-":
    result = replay(Path(sys.argv[1]), policy, settings.kafka.partitions)
    print("records", result.records)
"""


def instructions(code: Path, records: str) -> tuple[int, int | None]:
    """Instructions executed by the program (and the records it replayed) with ``code`` first on
    the path."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(code)}
    proc = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, "-c", PROGRAM, records],
        cwd=code, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no instruction count:\n{proc.stderr[-2000:]}")
    replayed = re.search(r"^records (\d+)$", proc.stdout, re.M)
    return int(found.group(1).replace(",", "")), int(replayed.group(1)) if replayed else None


def simulate(records: Path, dossiers: int, days: int) -> None:
    from contract.settings import Settings
    from producers.simulator import SimulationConfig, fault_preset, run_simulation

    config = SimulationConfig(seed=31, dossiers=dossiers, days=days, faults=fault_preset("all"))
    run_simulation(Settings(), config, truth_path=records.parent / "truth.jsonl", out=records)


def measure(name: str, code: Path, records: Path) -> None:
    base, _ = instructions(code, "-")
    total, count = instructions(code, str(records))
    own = total - base
    per = own / (count or 1)
    print(f"{name:<24} {own / 1e9:8.3f} G instructions for {count:,} records = {per:,.0f} a record")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dossiers", type=int, default=200)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--against", metavar="REV", help="also count a git revision, on the same records")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dongbo-instr-") as tmp:
        records = Path(tmp) / "records"
        simulate(records, args.dossiers, args.days)
        if args.against:
            other = Path(tmp) / "other"
            subprocess.run(["git", "worktree", "add", "--detach", str(other), args.against], cwd=ROOT,
                           check=True, capture_output=True)  # fmt: skip
            try:
                measure(args.against, other, records)
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, check=False)
        measure("working tree", ROOT, records)


if __name__ == "__main__":
    main()
