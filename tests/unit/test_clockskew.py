"""Which source's clock is off, from the stamps of the same steps and the capture delays."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from streams.clockskew import clock_offsets, pair_offset
from streams.merge import DEFAULT_PRIORITY, by_source, derive
from streams.model import VN_TZ, Status
from streams.state import DossierState, HistoryEntry

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
    assert offsets(*groups) == {skewed: skew}


@given(minutes=st.integers(min_value=5, max_value=120) | st.integers(min_value=-120, max_value=-5))
def test_the_desk_system_skewed_beside_the_portal_is_found(minutes: int) -> None:
    # The one-stop desk captures within seconds; the portal syncs within minutes.
    skew = timedelta(minutes=minutes)
    assert offsets(entries("onestop", skew), entries("portal", timedelta(0))) == {"onestop": skew}


def test_the_merge_reads_a_skewed_source_corrected_and_keeps_its_history_raw() -> None:
    skew = timedelta(minutes=-69)
    history = entries("onestop", skew) + entries("portal", timedelta(0))
    state = derive(DossierState(dossier_id="D1"), history)
    assert state.received_at == T0
    assert state.ended_at == T0 + timedelta(hours=20)  # RESULT_READY, real time
    assert [(p.start, p.end) for p in state.pauses] == [(T0 + timedelta(hours=10), T0 + timedelta(hours=15))]
    assert next(h.occurred_at for h in state.history if h.source == "onestop") == T0 + skew  # kept raw


def test_two_clocks_late_by_the_same_amount_are_both_found_by_their_capture_delays() -> None:
    # They agree with each other, two against one; only the delays show that both are late.
    late = timedelta(minutes=-55)
    got = offsets(entries("onestop", late), entries("portal", timedelta(0)), entries("civil", late))
    assert got == {"onestop": late, "civil": late}
