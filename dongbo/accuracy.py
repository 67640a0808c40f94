"""``dongbo accuracy``: the engine's results after a simulation against the simulator's truth.

Scoring is pure (``score``); reading the truth file and the states in Redis is the edge. The
engine's time-dependent results are taken as of the simulation's end (the truth's "as of"): an
open dossier is overdue at that moment exactly when its due time has passed.

What is expected of the engine, from the truth:
- due time: the legal due time (``legal_due_at``), to the second;
- outcome: the legal outcome at the end of the run;
- discrepancies: each fault that left a system's final due date different from the legal one
  (calendar missing a holiday / make-up day, missed pause, appointment moved), by reason;
- conflicts: each pair of systems whose final statuses are in different phases
  (``status_mismatch``) or whose final appointment dates differ (``due_date_mismatch``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

from contract.settings import Settings
from streams.conflicts import MINISTRIES, agreement_phase
from streams.model import Status

FAULT_REASON = {
    "calendar_missing_holiday": "calendar_holiday",
    "calendar_missing_makeup_day": "calendar_makeup_day",
    "missed_pause": "missed_pause",
    "appointment_changed": "appointment_changed",
}
SECOND = timedelta(seconds=1)


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass
class PR:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Score:
    dossiers: int = 0
    missing: list[str] = field(default_factory=list)
    due_exact: int = 0
    due_total: int = 0
    due_misses: list[str] = field(default_factory=list)
    unit_exact: int = 0  # the unit the statistics count the dossier under (2025 code remaps)
    unit_misses: list[str] = field(default_factory=list)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (truth, engine)
    discrepancies: dict[str, PR] = field(default_factory=dict)
    conflicts: dict[str, PR] = field(default_factory=dict)

    @property
    def outcome_accuracy(self) -> float:
        total = sum(self.outcomes.values())
        return sum(n for (t, e), n in self.outcomes.items() if t == e) / total if total else 1.0

    @property
    def perfect(self) -> bool:
        return (
            not self.missing
            and self.due_exact == self.due_total
            and self.unit_exact == self.due_total
            and self.outcome_accuracy == 1.0
            and all(
                p.precision == 1.0 and p.recall == 1.0
                for p in [*self.discrepancies.values(), *self.conflicts.values()]
            )
        )


def engine_outcome(state: dict[str, Any], as_of: datetime) -> str:
    """The engine's outcome at ``as_of``: ended ones as judged; open ones overdue once past the date
    they are judged against (the original one when an apology letter extended it: policy)."""
    if state.get("ended_at"):
        return str(state.get("outcome") or "PENDING")
    due = _dt(state.get("due_at"))
    return "OVERDUE" if due is not None and as_of > due else "PENDING"


def expected_discrepancies(truth: dict[str, Any]) -> set[tuple[str, str]]:
    out = set()
    for f in truth.get("faults", []):
        reason = FAULT_REASON.get(f["kind"])
        if reason is None or f.get("effect") is False:
            continue  # not a discrepancy kind, or the fault did not move the system's date
        src = _dt(f.get("source_due_at") or f.get("new_due_at"))
        # The date the dossier is tracked against: an apology letter's when there is one (rule 6).
        legal = _dt(truth.get("extended_due_at") or truth.get("legal_due_at"))
        final = _dt((truth.get("source_due_at") or {}).get(f["system"]))
        if legal is None or final is None or abs(final - legal) < SECOND:
            continue  # the fault left no trace in the system's final date
        if f["kind"] == "appointment_changed" or (src is not None and abs(src - final) < SECOND):
            out.add((f["system"], reason))
    return out


def expected_conflicts(truth: dict[str, Any]) -> set[tuple[str, str]]:
    out = set()
    statuses = truth.get("source_status") or {}
    dues = truth.get("source_due_at") or {}
    for a, b in combinations(sorted(statuses), 2):
        ministry = a in MINISTRIES or b in MINISTRIES
        if agreement_phase(Status(statuses[a]), ministry) != agreement_phase(Status(statuses[b]), ministry):
            out.add(("status_mismatch", f"{a}+{b}"))
        da, db = _dt(dues.get(a)), _dt(dues.get(b))
        if da and db and abs(da - db) > timedelta(minutes=1):
            out.add(("due_date_mismatch", f"{a}+{b}"))
    return out


def _count(table: dict[str, PR], kind: str, hit: str | None, miss: str | None, example: str) -> None:
    pr = table.setdefault(kind, PR())
    if hit == "tp":
        pr.tp += 1
    elif hit == "fp":
        pr.fp += 1
        if len(pr.examples) < 5:
            pr.examples.append(f"false {kind}: {example}")
    if miss == "fn":
        pr.fn += 1
        if len(pr.examples) < 5:
            pr.examples.append(f"missed {kind}: {example}")


def score(truths: Iterable[dict[str, Any]], states: dict[str, dict[str, Any]], as_of: datetime) -> Score:
    s = Score()
    for t in truths:
        s.dossiers += 1
        d = t["dossier_id"]
        state = states.get(d)
        if state is None:
            s.missing.append(d)
            continue
        legal, engine = _dt(t.get("legal_due_at")), _dt(state.get("due_at"))
        s.due_total += 1
        if (legal is None and engine is None) or (legal and engine and abs(legal - engine) < SECOND):
            s.due_exact += 1
        elif len(s.due_misses) < 10:
            s.due_misses.append(f"{d}: truth {legal}, engine {engine}")
        if t.get("unit_code") in (None, state.get("unit_code")):  # a truth without a unit: nothing to check
            s.unit_exact += 1
        elif len(s.unit_misses) < 10:
            s.unit_misses.append(f"{d}: unit truth {t['unit_code']}, engine {state.get('unit_code')}")
        s.outcomes[(t["outcome"], engine_outcome(state, as_of))] += 1
        got_d = {(x["source"], x["reason"]) for x in state.get("discrepancies", []) if x["field"] == "due_at"}
        want_d = expected_discrepancies(t)
        for src, reason in got_d | want_d:
            hit = (
                "tp"
                if (src, reason) in got_d and (src, reason) in want_d
                else ("fp" if (src, reason) in got_d else None)
            )
            _count(s.discrepancies, reason, hit, None if (src, reason) in got_d else "fn", f"{d} {src}")
        got_c = {(c["kind"], "+".join(c["systems"])) for c in state.get("conflicts", [])
                 if c["kind"] in ("status_mismatch", "due_date_mismatch")}  # fmt: skip
        want_c = expected_conflicts(t)
        for kind, pair in got_c | want_c:
            hit = (
                "tp"
                if (kind, pair) in got_c and (kind, pair) in want_c
                else ("fp" if (kind, pair) in got_c else None)
            )
            _count(s.conflicts, kind, hit, None if (kind, pair) in got_c else "fn", f"{d} {pair}")
    return s


def read_truth(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def truth_end(path: Path) -> datetime | None:
    summary = path.with_name(path.name + ".summary.json")
    if summary.exists():
        end = json.loads(summary.read_text()).get("end")
        return _dt(end)
    return None


def render(s: Score) -> str:
    lines = [
        f"dossiers in the truth: {s.dossiers}; missing from the engine: {len(s.missing)}",
        f"due time exact: {s.due_exact}/{s.due_total} ({100 * s.due_exact / max(1, s.due_total):.2f} %)",
        f"unit exact: {s.unit_exact}/{s.due_total} ({100 * s.unit_exact / max(1, s.due_total):.2f} %)",
        f"outcome accuracy: {100 * s.outcome_accuracy:.2f} %",
        "outcome confusion (truth → engine):",
    ]
    kinds = ["PENDING", "ON_TIME", "ENDED_EARLY", "OVERDUE"]
    lines.append("  " + " " * 12 + "".join(f"{k:>12}" for k in kinds))
    for t in kinds:
        lines.append(f"  {t:<12}" + "".join(f"{s.outcomes.get((t, e), 0):>12}" for e in kinds))
    for title, table in (("discrepancies", s.discrepancies), ("conflicts", s.conflicts)):
        lines.append(f"{title} by kind: precision / recall (tp, fp, fn)")
        for kind, pr in sorted(table.items()):
            lines.append(f"  {kind:<22} {100 * pr.precision:6.2f} % / {100 * pr.recall:6.2f} %"
                         f"   ({pr.tp}, {pr.fp}, {pr.fn})")  # fmt: skip
    examples = (
        s.due_misses[:5]
        + s.unit_misses[:5]
        + [e for pr in [*s.discrepancies.values(), *s.conflicts.values()] for e in pr.examples]
    )
    if examples:
        lines.append("examples to look at:")
        lines += [f"  {e}" for e in examples[:15]]
    lines.append(
        "PERFECT: 100 % on every measure" if s.perfect else "NOT PERFECT: every miss above is a bug to find"
    )
    return "\n".join(lines)


def load_states(settings: Settings, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The engine's current state of each dossier, from Redis (the sink of ``dossier.state``)."""
    from redis import Redis

    from sinks.redis_sink import keys_for, read_field

    raw = read_field(
        Redis.from_url(settings.redis.url, **settings.redis.auth()), keys_for(settings), list(ids), "json"
    )
    return {d: json.loads(doc) for d, doc in raw.items() if doc is not None}
