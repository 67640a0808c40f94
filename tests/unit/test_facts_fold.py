"""The facts folded entry by entry (``facts.gather_after``) are the facts gathered from the whole
history (``facts.gather``), and a state derived from the facts it holds is the state derived from
scratch (``derive._facts``).

Compared through ``repr``, not ``==``: two datetimes of one instant with different UTC offsets
are equal but print differently in the published JSON, and dicts equal in any order are iterated
in their order by later steps (discrepancies are listed in the sources' order).
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.derive import _HELD, HOLD_FROM
from streams.domain.unitcodes import UnitCodes
from streams.facts import DossierFacts, gather, gather_after
from streams.legal import LegalRules
from streams.merge import apply_event, apply_hidden, evaluate
from streams.merge_policy import DEFAULT_POLICY, MergePolicy
from streams.model import INDICATOR_ATTRIBUTES, VN_TZ, Channel, DossierEvent, Status
from streams.state import DossierState, HistoryEntry

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=VN_TZ)  # Monday
# A unit merged into another in the middle of the histories' days: which unit holds a dossier
# depends on its receipt day (or, with none, its first step's).
MERGED = UnitCodes({"000.09.00.H17": ("000.47.00.H17", date(2026, 3, 4))})
POLICIES = {
    "no rules": replace(DEFAULT_POLICY, unit_codes=MERGED),
    "legal rules": replace(DEFAULT_POLICY, rules=LegalRules.packaged(), unit_codes=MERGED),
}
# Known sources and two the trust order does not name (they share the last rank).
SOURCES = ["onestop", "portal", "civil", "land", "ministry-x", "ministry-y"]


def _moment(minutes: int, utc: bool) -> datetime:
    at = T0 + timedelta(minutes=minutes)
    return at.astimezone(UTC) if utc else at


def _maybe(values: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), values)


moments = st.builds(_moment, st.integers(0, 6 * 24 * 60), st.booleans())

entry_fields = st.fixed_dictionaries({
    "source": st.sampled_from(SOURCES),
    "status": st.sampled_from(list(Status)),
    "minutes": st.integers(0, 5 * 24 * 60),
    "utc": st.booleans(),  # the same instant written with another UTC offset
    "lag": st.integers(-1, 24 * 60),  # capture after the step (a minute early: a producer's clock)
    "seq": _maybe(st.integers(0, 40)),
    "due_at": _maybe(moments),
    "overdue": _maybe(st.booleans()),
    "procedure_code": _maybe(st.sampled_from(["1.001766", "2.000815", "1.012780", "9.999999"])),
    "unit_code": _maybe(st.sampled_from(["000.47.00.H17", "000.09.00.H17"])),
    "channel": st.sampled_from(list(Channel)),
    "extended_due_at": st.one_of(st.none(), st.none(), moments),
    "complex_case": _maybe(st.booleans()),
    "stated_received_at": st.one_of(st.none(), st.none(), moments),
    "stated_pause_start": st.one_of(st.none(), st.none(), moments),
    "stated_pause_end": st.one_of(st.none(), st.none(), moments),
    "stated_ended_at": st.one_of(st.none(), st.none(), st.none(), moments),
    "indicators": st.lists(
        st.tuples(st.sampled_from(sorted(INDICATOR_ATTRIBUTES)), st.sampled_from(["0", "1", "3"])),
        max_size=2, unique_by=lambda kv: kv[0],
    ).map(lambda kvs: tuple(sorted(kvs))),
})  # fmt: skip


def _entry(n: int, f: dict) -> HistoryEntry:
    occurred = _moment(f["minutes"], f["utc"])
    return HistoryEntry(
        event_id=f"e{n:03d}", source=f["source"], status=f["status"], occurred_at=occurred,
        ingested_at=occurred + timedelta(minutes=f["lag"]), seq=f["seq"], source_status=None,
        due_at=f["due_at"], overdue=f["overdue"], procedure_code=f["procedure_code"],
        unit_code=f["unit_code"], channel=f["channel"], extended_due_at=f["extended_due_at"],
        complex_case=f["complex_case"], stated_received_at=f["stated_received_at"],
        stated_pause_start=f["stated_pause_start"], stated_pause_end=f["stated_pause_end"],
        stated_ended_at=f["stated_ended_at"], indicators=f["indicators"],
    )  # fmt: skip


histories = st.lists(entry_fields, min_size=1, max_size=14).map(
    lambda fields: [_entry(n, f) for n, f in enumerate(fields)]
)

# Plain histories: few sources, statuses in lifecycle order, clocks that agree; the fold's
# common case, so that the property above is tested where the fold applies, not only where it
# declines.
LIFECYCLE = [
    Status.SUBMITTED, Status.RECEIVED, Status.IN_PROGRESS, Status.SUPPLEMENT_REQUESTED,
    Status.SUPPLEMENT_RECEIVED, Status.IN_PROGRESS, Status.RESULT_READY, Status.RETURNED,
]  # fmt: skip


@st.composite
def plain_histories(draw: st.DrawFn) -> list[HistoryEntry]:
    steps = draw(st.integers(2, len(LIFECYCLE)))
    sources = draw(st.lists(st.sampled_from(SOURCES[:4]), min_size=1, max_size=3, unique=True))
    out, minute = [], 0
    for i, status in enumerate(LIFECYCLE[:steps]):
        minute += draw(st.integers(3, 600))  # more than the copies lag: each source keeps its order
        for j, source in enumerate(sources):
            stamp = minute + j * draw(st.integers(0, 1))  # a copy a minute later, or the same minute
            f = draw(entry_fields)
            f.update(source=source, status=status, minutes=stamp, seq=i, lag=draw(st.integers(0, 30)))
            out.append(_entry(len(out), f))
    return out


def _shown_facts(facts: DossierFacts, name: str) -> str:
    value = getattr(facts, name)
    if name == "preferred":  # looked up by name, never iterated: their order is not a fact
        return repr(sorted(value.items(), key=repr))
    return repr(value)


def _check_fold(history: list[HistoryEntry], policy: MergePolicy) -> tuple[int, int]:
    """Add the entries one by one in the given (arrival) order; wherever the fold answers, it
    answers what ``gather`` does. How many times it answered, and how many of the steps read no
    clock as skewed before or after the entry."""
    facts = gather(history[:1], policy)
    folded = unskewed = 0
    for n in range(1, len(history)):
        whole = gather(history[: n + 1], policy)
        unskewed += not facts.skews and not whole.skews
        after = gather_after(facts, history[n], policy)
        if after is not None:
            folded += 1
            differ = [
                f.name for f in fields(whole) if _shown_facts(after, f.name) != _shown_facts(whole, f.name)
            ]
            assert not differ, f"entry {n} ({history[n].event_id}): {differ} differ"
        facts = after if after is not None else whole  # chain the fold's own answers too
    return folded, unskewed


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories)
def test_any_history_in_any_arrival_order_folds_to_the_gathered_facts(policy, history):
    _check_fold(history, policy)


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_plain_history_folds_to_the_gathered_facts_in_time_order_and_shuffled(policy, data):
    history = data.draw(plain_histories())
    in_time = sorted(history, key=HistoryEntry.order_key)
    folded, unskewed = _check_fold(in_time, policy)
    _check_fold(data.draw(st.permutations(history)), policy)
    # Not vacuous: in event-time order, with one numbering per source, the fold answers every
    # entry that no skewed clock (two systems stamping the same steps minutes apart) reads shifted.
    assert folded == unskewed


def test_the_fold_declines_an_entry_before_its_sources_last_and_a_skewed_clock():
    def e(n, source, status, minutes, seq=None, captured=None):
        at = T0 + timedelta(minutes=minutes)
        ingested = at + timedelta(seconds=5) if captured is None else T0 + timedelta(minutes=captured)
        return HistoryEntry(f"x{n}", source, status, at, ingested, seq=seq)

    facts = gather([e(1, "onestop", Status.RECEIVED, 0, 1), e(2, "onestop", Status.IN_PROGRESS, 30, 2)],
                   DEFAULT_POLICY)  # fmt: skip
    assert gather_after(facts, e(3, "onestop", Status.RESULT_READY, 60, 3), DEFAULT_POLICY) is not None
    assert gather_after(facts, e(3, "onestop", Status.RESULT_READY, 60, 1), DEFAULT_POLICY) is None  # seq
    assert gather_after(facts, e(3, "onestop", Status.RESULT_READY, 60), DEFAULT_POLICY) is None  # unnumbered
    # Another source's step late against the desk's is still folded (it is last in its own order).
    late = gather_after(facts, e(3, "portal", Status.RECEIVED, 1), DEFAULT_POLICY)
    assert late is not None and [h.event_id for h in late.history] == ["x1", "x3", "x2"]
    # The desk's clock 30 minutes ahead (its records captured before the steps they stamp): its
    # times are read shifted, and the fold declines from then on.
    skewed = gather([
        e(1, "onestop", Status.RECEIVED, 30, 1, captured=0), e(2, "portal", Status.RECEIVED, 0, captured=8),
        e(3, "onestop", Status.IN_PROGRESS, 330, 2, captured=300),
        e(4, "portal", Status.IN_PROGRESS, 300, captured=308),
    ], DEFAULT_POLICY)  # fmt: skip
    assert skewed.skews == {"onestop": timedelta(minutes=30)}
    assert (
        gather_after(skewed, e(5, "onestop", Status.RESULT_READY, 630, 3, captured=600), DEFAULT_POLICY)
        is None
    )


# -- the state: derived from the facts it holds, as from scratch --------------------------------


def _event(h: HistoryEntry) -> DossierEvent:
    return DossierEvent(
        event_id=h.event_id, source_event_id=h.event_id, dossier_id="D-1", source=h.source, status=h.status,
        occurred_at=h.occurred_at,
        ingested_at=h.ingested_at, source_seq=h.seq, due_at=h.due_at, overdue=h.overdue,
        procedure_code=h.procedure_code, unit_code=h.unit_code, channel=h.channel,
        extended_due_at=h.extended_due_at, complex_case=h.complex_case,
        stated_received_at=h.stated_received_at, stated_supplement_requested_at=h.stated_pause_start,
        stated_supplement_received_at=h.stated_pause_end, stated_ended_at=h.stated_ended_at,
        attributes=dict(h.indicators),
    )  # fmt: skip


def _fresh(state: DossierState) -> DossierState:
    """The same state without the facts it holds (as if read back from the table)."""
    return replace(state)


def _shown(state: DossierState) -> str:
    return repr((state.to_json(), state.version, state.evaluated_at, state.alerts, state.history))


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_state_evolved_as_the_engine_does_equals_one_derived_from_scratch(policy, data):
    """Events arrive in any order; each is kept hidden until its capture or applied at once, and
    time passes between them (as the engine's stream clock does): at every step the state built
    on the facts it holds is the state built from a copy holding none."""
    history = data.draw(st.one_of(histories, plain_histories()))
    order = data.draw(st.permutations(history))
    now = min(h.ingested_at for h in history) - timedelta(minutes=1)
    held: DossierState | None = None
    for h in order:
        if data.draw(st.booleans()):
            now += timedelta(minutes=data.draw(st.integers(0, 24 * 60)))
            if held is not None:
                fresh, folded = evaluate(_fresh(held), now, policy), evaluate(held, now, policy)
                assert _shown(folded.state) == _shown(fresh.state)
                held = folded.state
        event = _event(h)
        if held is not None and h.ingested_at > now:
            held = apply_hidden(held, event, now).state  # shows at a later evaluation
            continue
        now = max(now, h.ingested_at)
        fresh = apply_event(None if held is None else _fresh(held), event, now, policy)
        folded = apply_event(held, event, now, policy)
        assert _shown(folded.state) == _shown(fresh.state)
        assert folded.changed == fresh.changed
        held = folded.state
    # The last state holds its facts (for the next derive), unless a clock reads skewed there or
    # its history is too short to be worth it.
    assert held is not None and held.evaluated_at is not None
    shown = [h for h in held.history if h.ingested_at <= held.evaluated_at]
    assert (_HELD in vars(held)) == (len(shown) >= HOLD_FROM and not gather(shown, policy).skews)
