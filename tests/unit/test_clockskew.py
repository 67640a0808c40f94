"""Which source's clock is off, from the stamps of the same steps and the capture delays."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.clockskew import clock_offsets, pair_offset
from streams.legal import LegalRules
from streams.merge import DEFAULT_POLICY, derive
from streams.model import VN_TZ, Channel, Status
from streams.state import DossierState, HistoryEntry

DEFAULT_PRIORITY = DEFAULT_POLICY.source_priority

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=VN_TZ)
STEPS = [Status.RECEIVED, Status.IN_PROGRESS, Status.SUPPLEMENT_REQUESTED, Status.SUPPLEMENT_RECEIVED,
         Status.RESULT_READY, Status.RETURNED]  # fmt: skip
LAG = {"onestop": timedelta(seconds=10), "portal": timedelta(minutes=8), "civil": timedelta(minutes=2)}


def entries(source: str, skew: timedelta, lag: timedelta | None = None, steps: list[Status] = STEPS,
            lost: set[Status] = frozenset()) -> list[HistoryEntry]:  # type: ignore[assignment]  # fmt: skip
    lag = LAG[source] if lag is None else lag
    out = []
    for i, status in enumerate(steps):
        if status in lost:
            continue
        real = T0 + timedelta(hours=5 * i)
        out.append(HistoryEntry(event_id=f"{source}-{i}", source=source, status=status,
                                occurred_at=real + skew, ingested_at=real + lag, seq=i))  # fmt: skip
    return out


def by_source(history: list[HistoryEntry]) -> dict[str, list[HistoryEntry]]:
    grouped: dict[str, list[HistoryEntry]] = {}
    for e in sorted(history, key=HistoryEntry.order_key):
        grouped.setdefault(e.source, []).append(e)
    return grouped


def offsets(*groups: list[HistoryEntry]) -> dict[str, timedelta]:
    return clock_offsets(by_source([e for g in groups for e in g]), DEFAULT_PRIORITY)


def test_clocks_that_agree_need_no_correction() -> None:
    assert offsets(entries("onestop", timedelta(0)), entries("portal", timedelta(0))) == {}


def test_a_single_system_has_nothing_to_compare_with() -> None:
    assert offsets(entries("onestop", timedelta(minutes=40))) == {}


def test_a_clock_ahead_is_impossible_to_read_as_the_other_being_behind() -> None:
    # The one-stop system ahead by 30 min: read the other way, its records would reach dongbo
    # before the steps they report.
    skew = timedelta(minutes=30)
    assert offsets(entries("onestop", skew), entries("portal", timedelta(0))) == {"onestop": skew}


def test_a_clock_behind_shows_every_capture_late_by_the_offset() -> None:
    skew = timedelta(minutes=-69)
    assert offsets(entries("onestop", skew), entries("portal", timedelta(0))) == {"onestop": skew}
    assert offsets(entries("onestop", timedelta(0)), entries("portal", skew)) == {"portal": skew}


def test_the_majority_of_clocks_wins_and_a_lost_update_is_an_outlier() -> None:
    skew = timedelta(minutes=-8)  # as small as the portal's own sync delay: the majority decides
    got = offsets(
        entries("onestop", timedelta(0), lost={Status.SUPPLEMENT_RECEIVED}),
        entries("portal", skew),
        entries("civil", timedelta(0)),
    )
    assert got == {"portal": skew}


def test_one_shared_stamp_is_no_verdict_and_disagreeing_stamps_are_none() -> None:
    a = {"RECEIVED": T0}
    assert pair_offset(a, {"RECEIVED": T0 + timedelta(minutes=20)}) is None
    b = {"RECEIVED": T0, "IN_PROGRESS": T0, "RETURNED": T0}
    c = {"RECEIVED": T0 + timedelta(minutes=5), "IN_PROGRESS": T0 + timedelta(minutes=50),
         "RETURNED": T0 + timedelta(minutes=90)}  # fmt: skip
    assert pair_offset(c, b) is None


@given(
    minutes=st.integers(min_value=5, max_value=120) | st.integers(min_value=-120, max_value=-5),
    skewed=st.sampled_from(["onestop", "portal", "civil"]),
)
def test_one_skewed_clock_among_three_is_found_exactly(minutes: int, skewed: str) -> None:
    skew = timedelta(minutes=minutes)
    groups = [entries(s, skew if s == skewed else timedelta(0)) for s in ("onestop", "portal", "civil")]
    if skewed == "portal" and timedelta(0) < skew <= LAG["portal"]:
        # The portal's stamps a few minutes late, each captured after its stamp: exactly what its
        # sync looks like (it stamps the copy when it writes it). Nothing tells the two apart, and
        # the receipt is the one-stop desk's either way: read as the sync.
        assert offsets(*groups) == {}
    else:
        assert offsets(*groups) == {skewed: skew}


@given(minutes=st.integers(min_value=5, max_value=120) | st.integers(min_value=-120, max_value=-5))
def test_the_desk_system_skewed_beside_the_portal_is_found(minutes: int) -> None:
    # The one-stop desk captures within seconds; the portal syncs within minutes.
    skew = timedelta(minutes=minutes)
    assert offsets(entries("onestop", skew), entries("portal", timedelta(0))) == {"onestop": skew}


def test_the_merge_reads_a_skewed_source_corrected_and_keeps_its_history_raw() -> None:
    skew = timedelta(minutes=-69)
    history = entries("onestop", skew) + entries("portal", timedelta(0))
    state = derive(DossierState(dossier_id="D1"), history, DEFAULT_POLICY)
    assert state.received_at == T0
    assert state.ended_at == T0 + timedelta(hours=20)  # RESULT_READY, real time
    assert [(p.start, p.end) for p in state.pauses] == [(T0 + timedelta(hours=10), T0 + timedelta(hours=15))]
    assert next(h.occurred_at for h in state.history if h.source == "onestop") == T0 + skew  # kept raw


def test_two_clocks_late_by_the_same_amount_are_both_found_by_their_capture_delays() -> None:
    # They agree with each other, two against one; only the delays show that both are late.
    late = timedelta(minutes=-55)
    got = offsets(entries("onestop", late), entries("portal", timedelta(0)), entries("civil", late))
    assert got == {"onestop": late, "civil": late}


# A sync lag is not a clock error: the portal writes its copy of each one-stop step a few minutes
# after the step, and stamps the copy with that moment.
SYNC = [timedelta(seconds=s) for s in (130, 160, 180, 140, 170, 150)]  # 2–3 min, one per step
PROCEDURE, UNIT = "2.001610", "000.00.15.H17"  # enterprise registration: 3 working days


def synced_copy(sync: list[timedelta], capture: timedelta = timedelta(seconds=40)) -> list[HistoryEntry]:
    """The portal's records of the one-stop steps: stamped when written, captured after that."""
    return [
        replace(e, occurred_at=e.occurred_at + lag, ingested_at=e.occurred_at + lag + capture)
        for e, lag in zip(entries("portal", timedelta(0)), sync, strict=True)
    ]


def imported(*groups: list[HistoryEntry]) -> list[HistoryEntry]:
    """The same records from a file import: one capture time for all, long after the steps."""
    at = T0 + timedelta(days=20)
    return [replace(e, ingested_at=at) for g in groups for e in g]


@pytest.mark.parametrize(
    "sync", [SYNC, [timedelta(minutes=2, seconds=30)] * len(STEPS)], ids=["varying", "steady"]
)
def test_a_portal_stamping_each_step_minutes_after_the_desk_is_its_sync_not_a_clock(
    sync: list[timedelta],
) -> None:
    assert offsets(entries("onestop", timedelta(0)), synced_copy(sync)) == {}
    # A one-stop feed that captures a few minutes late says nothing either.
    late_feed = entries("onestop", timedelta(0), lag=timedelta(minutes=4))
    assert offsets(late_feed, synced_copy(sync)) == {}
    # Beside a third system on the right clock too.
    assert offsets(entries("onestop", timedelta(0)), synced_copy(sync), entries("civil", timedelta(0))) == {}


def test_captures_of_a_file_import_decide_nothing() -> None:
    # Every record captured at one moment, long after the steps: the stamps alone, and the
    # receiving desk is the authority for them.
    assert offsets(imported(entries("onestop", timedelta(0)), synced_copy(SYNC))) == {}
    # A shift larger than any sync is a clock, but which one nothing tells: the desk is kept.
    skew = timedelta(minutes=-40)
    assert offsets(imported(entries("onestop", skew), entries("portal", timedelta(0)))) == {"portal": -skew}
    # Three systems: the two that agree outvote the desk.
    got = offsets(
        imported(entries("onestop", skew), entries("portal", timedelta(0)), entries("civil", timedelta(0)))
    )
    assert got == {"onestop": skew}


def test_a_desk_clock_behind_by_more_than_a_sync_is_still_found() -> None:
    # Live: every one-stop capture 40 min after its stamp, and seconds after the real step.
    skew = timedelta(minutes=-40)
    assert offsets(entries("onestop", skew), entries("portal", timedelta(0))) == {"onestop": skew}
    # Behind by less than the sync tolerance: the captures still show it.
    skew = timedelta(minutes=-12)
    assert offsets(entries("onestop", skew), entries("portal", timedelta(0))) == {"onestop": skew}


def test_a_desk_clock_measured_through_a_lagging_portal_is_off_by_the_shift_less_the_sync() -> None:
    # The portal's stamps are 2–3 min later than the steps: the shift to them is the clock's and
    # the sync's. At the whole shift, the desk's captures would precede its steps; its fastest
    # capture (seconds after its step) is taken as the step, and the rest is the sync.
    for skew in (timedelta(minutes=-40), timedelta(minutes=-12), timedelta(minutes=30)):
        got = offsets(entries("onestop", skew), synced_copy(SYNC))
        assert got == {"onestop": skew - LAG["onestop"]}, skew
    # A third system on the right clock measures it exactly.
    skew = timedelta(minutes=-40)
    assert offsets(entries("onestop", skew), synced_copy(SYNC), entries("civil", timedelta(0))) == {
        "onestop": skew
    }


def test_a_portal_stamping_before_the_desk_or_before_its_own_captures_is_a_clock() -> None:
    early = timedelta(minutes=-3)  # a copy cannot be written before the step: the portal's clock
    assert offsets(entries("onestop", timedelta(0)), entries("portal", early)) == {"portal": early}
    ahead = timedelta(minutes=10)  # stamped after dongbo captured it: not a copy written late
    assert offsets(entries("onestop", timedelta(0)), entries("portal", ahead, lag=timedelta(minutes=1))) == {
        "portal": ahead
    }


def _legal(history: list[HistoryEntry]) -> list[HistoryEntry]:
    return [replace(e, procedure_code=PROCEDURE, unit_code=UNIT, channel=Channel.COUNTER) for e in history]


@pytest.mark.parametrize("feed", ["live", "import"])
def test_the_merge_keeps_the_desk_receipt_and_due_time_beside_a_lagging_portal(feed: str) -> None:
    policy = replace(DEFAULT_POLICY, rules=LegalRules.packaged())
    desk = _legal(entries("onestop", timedelta(0)))
    alone = derive(DossierState(dossier_id="D1"), desk, policy)
    assert alone.received_at == T0 and alone.due_at is not None
    # Both systems show the legal date: nothing to explain once the lag is read as the sync.
    desk = [replace(e, due_at=alone.due_at) for e in desk]
    portal = [replace(e, due_at=alone.due_at) for e in _legal(synced_copy(SYNC))]
    history = desk + portal if feed == "live" else imported(desk, portal)
    assert clock_offsets(by_source(history), policy.source_priority) == {}
    state = derive(DossierState(dossier_id="D1"), history, policy)
    assert state.received_at == T0
    assert state.due_at == alone.due_at
    assert [(d.source, d.reason) for d in state.discrepancies] == []


def test_the_merge_corrects_a_desk_clock_behind_and_says_so() -> None:
    policy = replace(DEFAULT_POLICY, rules=LegalRules.packaged())
    skew = timedelta(minutes=-40)
    right = derive(DossierState(dossier_id="D1"), _legal(entries("onestop", timedelta(0))), policy)
    history = _legal(entries("onestop", skew) + entries("portal", timedelta(0)))
    state = derive(DossierState(dossier_id="D1"), history, policy)
    assert state.received_at == T0
    assert state.due_at == right.due_at
    assert [(d.source, d.reason) for d in state.discrepancies] == [("onestop", "clock_skew")]
