"""Unit codes of the 2025 mergers: a retired code stands for the unit that replaced it, from the day
after its last valid day, and the merge counts a dossier under that unit."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.simulator.city import load_city
from streams.domain.unitcodes import UnitCodes, UnitCodesError, load_unit_codes, parse_unit_codes
from streams.facts import gather
from streams.merge_policy import DEFAULT_POLICY
from streams.model import VN_TZ, Status
from streams.state import HistoryEntry

CODES = load_unit_codes()
CITY = load_city()


def test_the_packaged_file_retires_every_predecessor_the_day_after_its_last_day() -> None:
    assert len(CODES.successors) == len(CITY.remap) > 100
    for old, (new, retired_from) in CODES.successors.items():
        assert CITY.remap[old] == new  # the simulator reads the same rule
        unit = CITY.units[old]
        assert unit.valid_to is not None and retired_from == unit.valid_to + timedelta(days=1)
        assert CODES.current(old, unit.valid_to) == old
        assert CODES.current(old, retired_from) == CITY.current_code(old)


@given(st.sampled_from(sorted(CODES.successors)), st.dates(date(2020, 1, 1), date(2030, 12, 31)))
def test_current_is_valid_on_the_day_and_idempotent(old: str, day: date) -> None:
    code = CODES.current(old, day)
    assert code is not None
    assert CODES.current(code, day) == code
    assert CITY.units[code].valid_on(day) or day < CITY.units[code].valid_from or code == old


def test_codes_not_in_the_file_and_none_pass_through() -> None:
    assert CODES.current("WABO-GENERAL", date(2026, 1, 1)) == "WABO-GENERAL"
    assert CODES.current(None, date(2026, 1, 1)) is None


def test_a_chain_of_mergers_is_followed_and_a_cycle_refused() -> None:
    chain = UnitCodes({"A": ("B", date(2025, 3, 1)), "B": ("C", date(2025, 7, 1))})
    assert [chain.current("A", d) for d in (date(2025, 2, 28), date(2025, 3, 1), date(2025, 7, 1))] == [
        "A",
        "B",
        "C",
    ]
    with pytest.raises(UnitCodesError, match="cycle"):
        UnitCodes({"A": ("B", date(2025, 1, 1)), "B": ("A", date(2025, 1, 1))}).current("A", date(2026, 1, 1))
    twice = [
        {"code": "N1", "predecessors": [{"code": "O1"}]},
        {"code": "N2", "predecessors": [{"code": "O1"}]},
    ]
    doc = {"merger": {"date": date(2025, 7, 1)}, "communal": twice}
    with pytest.raises(UnitCodesError, match="replaced twice"):
        parse_unit_codes(doc)


def _entry(source: str, unit: str, at: datetime, status: Status = Status.RECEIVED) -> HistoryEntry:
    return HistoryEntry(f"{source}-{status}", source, status, at, at + timedelta(seconds=5), unit_code=unit)


def test_the_merge_counts_a_dossier_sent_with_a_retired_code_under_todays_unit() -> None:
    old = next(iter(sorted(o for o, (_n, d) in CODES.successors.items() if d == date(2025, 7, 1))))
    new = CODES.successors[old][0]
    policy = replace(DEFAULT_POLICY, unit_codes=CODES)
    after = datetime(2026, 4, 20, 9, 0, tzinfo=VN_TZ)
    # The one-stop system (trusted first for attributes) still sends the old code.
    facts = gather(
        [_entry("onestop", old, after), _entry("portal", new, after + timedelta(minutes=3))], policy
    )
    assert facts.unit_code == new
    # Received before the merger, the old code was the unit's own: kept.
    before = datetime(2025, 6, 2, 9, 0, tzinfo=VN_TZ)
    assert gather([_entry("onestop", old, before)], policy).unit_code == old
    # Without the register (the merge's own tests), codes are as sent.
    assert gather([_entry("onestop", old, after)], DEFAULT_POLICY).unit_code == old
