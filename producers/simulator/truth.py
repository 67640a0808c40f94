"""The ground truth: one JSON line per dossier (format in ``docs/simulator.md``), and a summary.

Times are ISO-8601 in +07:00. Keys are always present (``null`` when not applicable), so a reader
needs no guessing; the order of keys and lines is fixed, so a seed gives byte-identical files.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from producers.simulator.model import Dossier
from producers.simulator.vocab import STATUS
from streams.model import VN_TZ


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(VN_TZ).isoformat()


def truth_record(d: Dossier) -> dict[str, Any]:
    return {
        "dossier_id": d.code,
        "procedure_code": d.procedure_code,
        "procedure_version": d.procedure_version or None,
        "procedure_name": d.procedure_name,
        "complex_case": d.complex_case,
        "unit_code": d.unit_code,
        "channel": d.channel.value,
        "systems": list(d.systems),
        "lifecycle": [
            {"status": STATUS[e.step].value, "step": e.step.value, "at": iso(e.at)} for e in d.events
        ],
        "submitted_at": iso(d.submitted_at),
        "received_at": iso(d.received_at),
        "receipt_effective_at": iso(d.receipt_effective_at),
        "received_late": d.received_late,
        "pauses": [p.to_json() for p in d.pauses],
        "legal_due_at": iso(d.legal_due_at),
        "clock_stopped": d.clock_stopped,
        "original_due_at": iso(d.original_due_at),
        "extended_due_at": iso(d.extended_due_at),
        "ended_at": iso(d.ended_at),
        "outcome": d.outcome,
        "source_status": dict(d.source_status),
        "source_due_at": {s: iso(v) for s, v in d.source_due_at.items()},
        "source_overdue": dict(d.source_overdue),
        "faults": d.faults,
        # What the Decision 766 indicators read: paid online (the portal's code: 1 portal, 2 local
        # gateway, 0 not paid; null: no fee), component documents, electronic result files.
        "paid_online": d.paid_online,
        "documents": {
            "total": len(d.documents),
            "digitised": sum(doc.digitised for doc in d.documents),
            "reused": sum(doc.reused for doc in d.documents),
        },
        "result_files": d.result_files,
    }


def truth_line(d: Dossier) -> str:
    return json.dumps(truth_record(d), ensure_ascii=False, separators=(",", ":")) + "\n"


class Tally:
    """Counts over the truth, for the summary: outcomes, channels, faults by kind and system."""

    def __init__(self) -> None:
        self.dossiers = 0
        self.outcomes: Counter[str] = Counter()
        self.channels: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.faults_by_system: Counter[str] = Counter()
        self.received_late = 0

    def add(self, d: Dossier) -> None:
        self.dossiers += 1
        self.outcomes[d.outcome] += 1
        self.channels[d.channel.value] += 1
        self.received_late += bool(d.received_late)
        for f in d.faults:
            self.faults[f["kind"]] += 1
            self.faults_by_system[f"{f['kind']}@{f['system']}"] += 1
