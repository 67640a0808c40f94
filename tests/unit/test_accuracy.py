"""The accuracy scoring: what counts as a hit, a false alarm and a miss."""

from __future__ import annotations

from datetime import datetime

from dongbo.accuracy import engine_outcome, expected_conflicts, expected_discrepancies, render, score
from streams.model import VN_TZ

END = datetime(2026, 3, 10, tzinfo=VN_TZ)


def truth(**kw):
    base = {
        "dossier_id": "D1",
        "legal_due_at": "2026-03-05T17:00:00+07:00",
        "outcome": "PENDING",
        "source_status": {"onestop": "IN_PROGRESS", "portal": "IN_PROGRESS"},
        "source_due_at": {"onestop": "2026-03-05T17:00:00+07:00", "portal": "2026-03-05T17:00:00+07:00"},
        "faults": [],
    }
    return {**base, **kw}


def state(**kw):
    base = {"dossier_id": "D1", "due_at": "2026-03-05T17:00:00+07:00", "ended_at": None, "outcome": "PENDING",
            "discrepancies": [], "conflicts": []}  # fmt: skip
    return {**base, **kw}


def test_a_perfect_engine_scores_perfect():
    s = score([truth(outcome="OVERDUE")], {"D1": state()}, END)
    assert s.perfect, render(s)
    assert s.outcomes[("OVERDUE", "OVERDUE")] == 1  # open and past due at the run's end


def test_open_dossiers_are_judged_against_the_original_date():
    assert engine_outcome(state(extended_due_at="2026-03-20T17:00:00+07:00"), END) == "OVERDUE"
    assert engine_outcome(state(), datetime(2026, 3, 5, 16, tzinfo=VN_TZ)) == "PENDING"
    assert engine_outcome(state(ended_at="2026-03-04T10:00:00+07:00", outcome="ON_TIME"), END) == "ON_TIME"


def test_a_wrong_due_time_and_a_missing_dossier_are_not_perfect():
    s = score([truth(), truth(dossier_id="D2")], {"D1": state(due_at="2026-03-06T17:00:00+07:00")}, END)
    assert not s.perfect
    assert s.missing == ["D2"] and s.due_exact == 0 and s.due_total == 1


def test_discrepancy_expected_only_where_the_fault_left_a_trace():
    fault = {"kind": "missed_pause", "system": "portal", "source_due_at": "2026-03-04T17:00:00+07:00"}
    traced = truth(faults=[fault], source_due_at={"onestop": "2026-03-05T17:00:00+07:00",
                                                  "portal": "2026-03-04T17:00:00+07:00"})  # fmt: skip
    assert expected_discrepancies(traced) == {("portal", "missed_pause")}
    assert expected_discrepancies(truth(faults=[fault])) == set()  # the portal's final date is right
    got = state(discrepancies=[{"source": "portal", "field": "due_at", "reason": "missed_pause"}])
    assert score([traced], {"D1": got}, END).discrepancies["missed_pause"].tp == 1
    wrong = state(discrepancies=[{"source": "portal", "field": "due_at", "reason": "calendar_holiday"}])
    s = score([traced], {"D1": wrong}, END)
    assert s.discrepancies["missed_pause"].fn == 1 and s.discrepancies["calendar_holiday"].fp == 1


def test_conflicts_expected_from_the_systems_final_words():
    dues = {"onestop": "2026-03-05T17:00:00+07:00", "portal": "2026-03-06T17:00:00+07:00"}
    t = truth(source_status={"onestop": "RESULT_READY", "portal": "IN_PROGRESS"}, source_due_at=dues)
    assert expected_conflicts(t) == {
        ("status_mismatch", "onestop+portal"),
        ("due_date_mismatch", "onestop+portal"),
    }
    # A ministry system never sees the result handed over at the desk: not a conflict.
    assert expected_conflicts(truth(source_status={"onestop": "RETURNED", "civil": "RESULT_READY"})) == set()
    s = score(
        [t], {"D1": state(conflicts=[{"kind": "status_mismatch", "systems": ["onestop", "portal"]}])}, END
    )
    assert s.conflicts["status_mismatch"].tp == 1 and s.conflicts["due_date_mismatch"].fn == 1
