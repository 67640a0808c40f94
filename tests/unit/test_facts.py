"""What a dossier's history says (``streams/facts.py``): each source's view in its own order, the
receipt, the unified status, the end, pauses and attributes, before any legal rule runs."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.facts import by_source, gather, receipt_time, source_views, unified_status
from streams.merge_policy import DEFAULT_POLICY
from streams.model import STAGE, VN_TZ, Channel, Status
from streams.state import HistoryEntry

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=VN_TZ)  # Monday


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def entry(
    source: str, sid: str, status: Status, minutes: float, seq: int | None = None, **kw
) -> HistoryEntry:
    when = at(minutes)
    ingested = kw.pop("ingested_at", when + timedelta(seconds=5))
    return HistoryEntry(f"{source}-{sid}", source, status, when, ingested, seq=seq, **kw)


def received(source: str, minutes: float) -> HistoryEntry:
    return entry(source, f"r{minutes}", Status.RECEIVED, minutes)


def receipt(*entries: HistoryEntry) -> datetime | None:
    return receipt_time(by_source(entries), DEFAULT_POLICY)


# -- receipt --------------------------------------------------------------------------------------


def test_with_two_systems_the_receipt_is_the_one_stop_desks():
    assert receipt(received("portal", 0), received("onestop", 7)) == at(7)
    assert receipt(received("onestop", 7), received("portal", 0)) == at(7)  # whatever the order
    assert receipt(received("onestop", -3), received("portal", 0)) == at(-3)
    # Without the desk: the next most trusted (portal before the ministry systems).
    assert receipt(received("civil", 0), received("portal", 12)) == at(12)


def test_with_three_systems_the_receipt_is_the_median():
    # The one-stop clock is two hours off: the two others outvote it.
    assert receipt(received("onestop", 120), received("portal", 0), received("civil", 3)) == at(3)
    assert receipt(received("onestop", 2), received("portal", 0), received("land", 5)) == at(2)
    assert receipt(received("civil", -60), received("portal", 1), received("onestop", 4)) == at(1)


def test_each_system_votes_with_its_first_receipt_and_only_if_it_received():
    assert receipt(received("portal", 30), received("portal", 0)) == at(0)
    # civil never shows RECEIVED: two voters, the desk's time wins (no median with civil's step).
    assert receipt(received("onestop", 10), received("portal", 0),
                   entry("civil", "c", Status.IN_PROGRESS, 5)) == at(10)  # fmt: skip
    assert receipt(entry("portal", "s", Status.SUBMITTED, 0)) is None
    assert receipt() is None


def test_a_receipt_lost_everywhere_is_read_from_a_later_records_statement():
    history = [
        entry("portal", "s", Status.SUBMITTED, 0, channel=Channel.ONLINE),
        entry("portal", "p", Status.IN_PROGRESS, 300, stated_received_at=at(45)),
        entry("civil", "c", Status.IN_PROGRESS, 310, stated_received_at=at(50)),
    ]
    facts = gather(history, DEFAULT_POLICY)
    assert facts.received_at == at(45)  # the portal's, the most trusted that states it
    assert facts.submitted_at == at(0)
    # A receipt some system showed as a step wins over a statement.
    assert gather([*history, received("civil", 60)], DEFAULT_POLICY).received_at == at(60)


# -- unified status -------------------------------------------------------------------------------

LIFECYCLE = [
    entry("portal", "1", Status.SUBMITTED, 0),
    entry("onestop", "1", Status.RECEIVED, 10),
    entry("portal", "2", Status.RECEIVED, 12),
    entry("onestop", "2", Status.IN_PROGRESS, 20),
    entry("onestop", "3", Status.SUPPLEMENT_REQUESTED, 60),
    entry("portal", "3", Status.SUPPLEMENT_REQUESTED, 65),
    entry("onestop", "4", Status.SUPPLEMENT_RECEIVED, 200),
    entry("business", "1", Status.IN_PROGRESS, 210),
    entry("business", "2", Status.RESULT_READY, 400),
    entry("onestop", "5", Status.RESULT_READY, 410),
    entry("portal", "4", Status.IN_PROGRESS, 420),  # a stale copy: the portal lags
    entry("onestop", "6", Status.RETURNED, 500),
]


def _stages_as_arriving(order) -> list[int]:
    stages, seen = [], []
    for e in order:
        seen.append(e)
        status = unified_status(seen)
        assert status is not None
        stages.append(STAGE[status])
    return stages


@settings(max_examples=100, deadline=None)
@given(st.permutations(LIFECYCLE))
def test_the_unified_status_never_moves_to_a_lower_stage_whatever_the_arrival_order(order):
    stages = _stages_as_arriving(order)
    assert stages == sorted(stages)
    # It is the furthest stage reached so far, and the end does not depend on the order.
    assert stages == [max(STAGE[e.status] for e in order[: i + 1]) for i in range(len(order))]
    assert unified_status(order) == unified_status(LIFECYCLE) == Status.RETURNED


random_history = st.lists(
    st.tuples(st.sampled_from(["onestop", "portal", "civil", "land"]), st.sampled_from(list(Status)),
              st.integers(0, 5000)),
    min_size=1, max_size=15, unique_by=lambda t: (t[0], t[2]),
).map(lambda items: [entry(src, str(m), status, m) for src, status, m in items])  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(random_history.flatmap(lambda h: st.tuples(st.just(h), st.permutations(h))))
def test_any_history_any_order_same_status_and_stages_only_rise(pair):
    history, order = pair
    stages = _stages_as_arriving(order)
    assert stages == sorted(stages)
    assert unified_status(order) == unified_status(history)
    assert gather(order, DEFAULT_POLICY).status == unified_status(history)


def test_within_processing_the_one_stop_system_has_the_last_word():
    history = [
        entry("onestop", "1", Status.IN_PROGRESS, 30),
        entry("portal", "1", Status.SUPPLEMENT_REQUESTED, 40),
    ]
    assert unified_status(history) == Status.IN_PROGRESS
    # Without one-stop in the stage, the latest word wins.
    history = [
        entry("portal", "1", Status.SUPPLEMENT_REQUESTED, 40),
        entry("land", "1", Status.TRANSFERRED, 50),
    ]
    assert unified_status(history) == Status.TRANSFERRED


def test_outside_processing_the_latest_word_of_the_stage_and_the_first_exit():
    assert unified_status([entry("onestop", "1", Status.RESULT_READY, 10),
                           entry("portal", "1", Status.RETURNED, 5)]) == Status.RETURNED  # fmt: skip
    exits = [entry("portal", "w", Status.WITHDRAWN, 50), entry("civil", "s", Status.STOPPED, 70),
             entry("onestop", "r", Status.REJECTED, 20)]  # fmt: skip
    assert unified_status(exits) == Status.REJECTED
    assert unified_status([]) is None


# -- end of processing ----------------------------------------------------------------------------


def test_a_lost_result_ready_is_recovered_from_a_later_records_stated_end():
    history = [
        received("onestop", 0),
        entry("onestop", "2", Status.IN_PROGRESS, 30),
        # The result-ready update was lost everywhere; the portal's next record states the end.
        entry("portal", "ret", Status.RETURNED, 600, stated_ended_at=at(480)),
    ]
    facts = gather(history, DEFAULT_POLICY)
    assert facts.ended_at == at(480)
    assert facts.status == Status.RETURNED
    # Without the statement the return itself is the end.
    assert gather(
        [*history[:2], entry("portal", "ret", Status.RETURNED, 600)], DEFAULT_POLICY
    ).ended_at == at(600)


def test_the_earliest_end_wins_between_a_step_and_a_statement():
    step = entry("onestop", "rr", Status.RESULT_READY, 400)
    late_statement = entry("portal", "ret", Status.RETURNED, 600, stated_ended_at=at(450))
    assert gather([received("onestop", 0), step, late_statement], DEFAULT_POLICY).ended_at == at(400)
    early_statement = entry("portal", "ret", Status.RETURNED, 600, stated_ended_at=at(380))
    assert gather([received("onestop", 0), step, early_statement], DEFAULT_POLICY).ended_at == at(380)
    # A result ready comes before a return, even one seen earlier in time by another system.
    history = [received("onestop", 0), entry("portal", "r", Status.RETURNED, 300),
               entry("onestop", "rr", Status.RESULT_READY, 350)]  # fmt: skip
    assert gather(history, DEFAULT_POLICY).ended_at == at(350)


# -- a source's own order -------------------------------------------------------------------------


def test_a_sources_sequence_numbers_order_its_entries_even_when_its_clock_disagrees():
    # The land system's clock jumped back an hour between its revisions 1 and 2.
    first = entry("land", "1", Status.IN_PROGRESS, 100, seq=1, due_at=at(5000), overdue=False, unit_code="U1")
    second = entry("land", "2", Status.RESULT_READY, 40, seq=2, ingested_at=at(101))
    grouped = by_source([second, first, received("onestop", 0)])
    assert grouped["land"] == [first, second]
    view = source_views(grouped)["land"]
    assert view.status == Status.RESULT_READY  # its latest word, by its own numbering
    assert (view.last_occurred_at, view.last_seq, view.events) == (at(40), 2, 2)
    assert view.last_seen_at == at(101) and view.due_at == at(5000) and view.overdue is False
    assert view.unit_code == "U1"
    assert gather([second, first], DEFAULT_POLICY).sources["land"].status == Status.RESULT_READY


def test_without_sequence_numbers_on_every_entry_a_source_is_read_in_time_order():
    first = entry("land", "1", Status.IN_PROGRESS, 100, seq=1)
    second = entry("land", "2", Status.RESULT_READY, 40)  # unnumbered
    assert by_source([first, second])["land"] == [second, first]
    assert source_views(by_source([first, second]))["land"].status == Status.IN_PROGRESS


def test_a_source_view_keeps_its_latest_date_flag_and_unit():
    grouped = by_source([
        entry("onestop", "1", Status.RECEIVED, 0, seq=1, due_at=at(3000), overdue=False, unit_code="A"),
        entry("onestop", "2", Status.IN_PROGRESS, 10, seq=2, due_at=at(3100), unit_code="B"),
        entry("onestop", "3", Status.IN_PROGRESS, 20, seq=3, source_status="DEPT_PROCESSING"),
    ])  # fmt: skip
    v = source_views(grouped)["onestop"]
    assert (v.due_at, v.overdue, v.unit_code, v.source_status) == (at(3100), False, "B", "DEPT_PROCESSING")


# -- attributes, letters, dates over time, pauses ------------------------------------------------


def test_attributes_come_from_the_most_trusted_source_that_says_them():
    facts = gather([
        entry("portal", "1", Status.RECEIVED, 0, unit_code="OLD", procedure_code="P", channel=Channel.ONLINE,
              complex_case=False),
        entry("onestop", "1", Status.RECEIVED, 5, unit_code="NEW", complex_case=True),
        entry("onestop", "2", Status.IN_PROGRESS, 9),
    ], DEFAULT_POLICY)  # fmt: skip
    assert (facts.unit_code, facts.procedure_code, facts.channel) == ("NEW", "P", Channel.ONLINE)
    assert facts.said_complex is True
    assert facts.first_seen == {
        "portal": at(0) + timedelta(seconds=5),
        "onestop": at(5) + timedelta(seconds=5),
    }  # captured


def test_dates_a_system_computed_are_those_before_the_first_apology_letter():
    facts = gather([
        entry("onestop", "1", Status.RECEIVED, 0, seq=1, due_at=at(3000)),
        entry("portal", "1", Status.RECEIVED, 2, due_at=at(3001)),
        entry("onestop", "2", Status.IN_PROGRESS, 100, seq=2, due_at=at(3600)),
        entry("portal", "2", Status.IN_PROGRESS, 200, due_at=at(9000), extended_due_at=at(9000)),
        entry("onestop", "3", Status.IN_PROGRESS, 300, seq=3, due_at=at(9100), extended_due_at=at(9100)),
    ], DEFAULT_POLICY)  # fmt: skip
    assert facts.reports == {
        "onestop": [(at(0), at(3000)), (at(100), at(3600))],
        "portal": [(at(2), at(3001))],
    }
    assert facts.letters == {"portal": at(9000), "onestop": at(9100)}
    assert facts.extended_due_at == at(9100)  # the one-stop system's letter


def test_pauses_from_status_updates_and_from_a_records_statement():
    history = [
        received("onestop", 0),
        entry("onestop", "sr", Status.SUPPLEMENT_REQUESTED, 60),
        entry("onestop", "sb", Status.SUPPLEMENT_RECEIVED, 120),
        # A second supplement no status update showed, stated by the portal's next record.
        entry("portal", "x", Status.IN_PROGRESS, 900, stated_pause_start=at(600), stated_pause_end=at(700)),
    ]
    pauses = gather(history, DEFAULT_POLICY).pauses
    assert [(p.start, p.end, p.reason) for p in pauses] == [
        (at(60), at(120), "supplement"),
        (at(600), at(700), "supplement"),
    ]
    # The statement of the same pause closes it when the status updates left it open.
    still_open = [received("onestop", 0), entry("onestop", "sr", Status.SUPPLEMENT_REQUESTED, 60),
                  entry("portal", "x", Status.SUPPLEMENT_REQUESTED, 300, stated_pause_start=at(60),
                        stated_pause_end=at(250))]  # fmt: skip
    assert [(p.start, p.end) for p in gather(still_open, DEFAULT_POLICY).pauses] == [(at(60), at(250))]


# -- a pause that would end before it starts is not counted (it crashed the legal computation) ---


def test_a_stated_supplement_answered_before_it_was_asked_gives_no_backwards_pause():
    history = [
        received("onestop", 0),
        entry("portal", "x", Status.IN_PROGRESS, 900, stated_pause_start=at(600), stated_pause_end=at(500)),
    ]
    assert all(p.end is None or p.end >= p.start for p in gather(history, DEFAULT_POLICY).pauses)


def test_a_sequence_that_contradicts_the_clock_gives_no_backwards_pause():
    history = [received("onestop", 0),
               entry("land", "1", Status.SUPPLEMENT_REQUESTED, 300, seq=1),
               entry("land", "2", Status.IN_PROGRESS, 120, seq=2)]  # fmt: skip
    assert all(p.end is None or p.end >= p.start for p in gather(history, DEFAULT_POLICY).pauses)


# -- the Decision 766 attributes ----------------------------------------------------------------------


def test_indicator_attributes_come_from_the_most_trusted_system_that_reports_each() -> None:
    onestop = entry("onestop", "o1", Status.RECEIVED, 0, indicators=(("paid_online", "true"),))
    portal = entry(
        "portal", "p1", Status.RECEIVED, 5,
        indicators=(("documents_total", "3"), ("paid_online", "false")),
    )  # fmt: skip
    later = entry("portal", "p2", Status.IN_PROGRESS, 50, indicators=(("documents_total", "4"),))
    facts = gather([later, portal, onestop], DEFAULT_POLICY)
    # onestop is trusted first for paid_online; only the portal lists documents, its latest word wins.
    assert facts.attributes == {"paid_online": "true", "documents_total": "4"}
    assert gather([received("portal", 0)], DEFAULT_POLICY).attributes == {}
