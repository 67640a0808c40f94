"""Deadline arithmetic (docs/domain-rules.md §3–§10): table tests on real 2024–2027 dates, and properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from streams.domain.calendar import BusinessCalendar
from streams.domain.catalogue_io import cached_catalogue
from streams.domain.deadlines import (
    PauseSpan,
    add_months,
    compute_due,
    effective_receipt,
    judge_outcome,
    merge_pauses,
    near_deadline,
    near_deadline_from,
    overdue_now,
    pausing_statuses,
    received_late,
    received_late_from,
    step_due_times,
)
from streams.domain.limits import Limit, LimitUnit
from streams.domain.officehours import OfficeHours
from streams.domain.policy import DEFAULT_POLICY, DeadlinePolicy, ExtensionJudgement, ReceiptRule
from streams.model import VN_TZ, Channel, Outcome, Status

CAL = BusinessCalendar()
H = timedelta(hours=1)
WD = LimitUnit.WORKING_DAYS


def t(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=VN_TZ)


def due(received: datetime, value: float, unit: LimitUnit, **kw: object) -> datetime | None:
    return compute_due(received, Limit(value, unit), CAL, **kw).due_at  # type: ignore[arg-type]


# -- rule 4: table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "value", "unit", "expected"),
    [
        # working days: n × 8 h of working time
        (t(2026, 3, 9, 9), 3, WD, t(2026, 3, 12, 9)),  # docs/domain-rules.md §4, worked example
        (t(2026, 2, 12, 9), 3, WD, t(2026, 2, 24, 9)),  # Tết Bính Ngọ 16–20/02 skipped
        (t(2024, 2, 7, 10), 2, WD, t(2024, 2, 16, 10)),  # Tết Giáp Thìn 08–14/02 skipped
        (t(2026, 4, 29, 10), 2, WD, t(2026, 5, 5, 10)),  # 30/4 and 1/5 skipped
        (t(2026, 8, 28, 14), 1, WD, t(2026, 9, 3, 14)),  # 31/8 swapped, 1–2/9 National Day
        (t(2025, 4, 25, 9), 1, WD, t(2025, 4, 26, 9)),  # Friday → make-up Saturday 26/4/2025
        (t(2026, 1, 9, 9), 1, WD, t(2026, 1, 10, 9)),  # Friday → make-up Saturday 10/1/2026
        (t(2025, 12, 31, 9), 3, WD, t(2026, 1, 7, 9)),  # 1/1 and swapped 2/1 skipped
        (t(2026, 3, 9, 16), 4, LimitUnit.WORKING_HOURS, t(2026, 3, 10, 10, 30)),
        (t(2026, 3, 9, 18), 1, WD, t(2026, 3, 10, 17)),  # counter after hours: from Tue 07:30
        (t(2026, 3, 9, 12), 1, LimitUnit.WORKING_HOURS, t(2026, 3, 9, 14)),  # lunch: from 13:00
        # same day, 15:00 cut-off
        (t(2026, 3, 9, 14, 59), 0, LimitUnit.SAME_DAY, t(2026, 3, 9, 17)),
        (t(2026, 3, 9, 15, 0), 0, LimitUnit.SAME_DAY, t(2026, 3, 9, 17)),
        (t(2026, 3, 9, 15, 1), 0, LimitUnit.SAME_DAY, t(2026, 3, 10, 17)),
        (t(2026, 3, 13, 15, 1), 0, LimitUnit.SAME_DAY, t(2026, 3, 16, 17)),  # Friday → Monday
        (t(2026, 1, 9, 15, 30), 0, LimitUnit.SAME_DAY, t(2026, 1, 10, 17)),  # → make-up Saturday
        (t(2026, 2, 13, 16), 0, LimitUnit.SAME_DAY, t(2026, 2, 23, 17)),  # → after Tết
        (t(2026, 3, 14, 10), 0, LimitUnit.SAME_DAY, t(2026, 3, 16, 17)),  # Saturday → Monday
        # calendar days: land on a day off → close of the next working day
        (t(2026, 3, 2, 10), 15, LimitUnit.DAYS, t(2026, 3, 17, 10)),
        (t(2026, 3, 3, 10), 5, LimitUnit.DAYS, t(2026, 3, 9, 17)),  # Sunday → Monday close
        (t(2026, 4, 2, 10), 28, LimitUnit.DAYS, t(2026, 5, 4, 17)),  # 30/4 → past 1/5 and weekend
        (t(2026, 2, 2, 10), 15, LimitUnit.DAYS, t(2026, 2, 23, 17)),  # Tết
        (t(2025, 12, 18, 10), 15, LimitUnit.DAYS, t(2026, 1, 5, 17)),  # 2/1/2026 swapped day off
        # months: the same day number, clamped to the month's end
        (t(2026, 1, 30, 10), 1, LimitUnit.MONTHS, t(2026, 3, 2, 17)),  # 28/2 is a Saturday
        (t(2028, 1, 31, 10), 1, LimitUnit.MONTHS, t(2028, 2, 29, 10)),  # leap year
        (t(2026, 3, 31, 10), 1, LimitUnit.MONTHS, t(2026, 5, 4, 17)),  # 30/4 holiday
        (t(2026, 11, 30, 10), 3, LimitUnit.MONTHS, t(2027, 3, 1, 17)),  # 28/2/2027 is a Sunday
    ],
)
def test_due_time(received: datetime, value: float, unit: LimitUnit, expected: datetime) -> None:
    assert due(received, value, unit) == expected


def test_cutoff_from_the_limit_beats_the_policy() -> None:
    at = t(2026, 3, 9, 15, 20)
    assert compute_due(at, Limit(0, LimitUnit.SAME_DAY, time(15, 30)), CAL).due_at == t(2026, 3, 9, 17)
    late_policy = DeadlinePolicy(same_day_cutoff=time(16, 0))
    assert compute_due(at, Limit(0, LimitUnit.SAME_DAY), CAL, policy=late_policy).due_at == t(2026, 3, 9, 17)
    assert compute_due(at, Limit(0, LimitUnit.SAME_DAY), CAL).due_at == t(2026, 3, 10, 17)


def test_days_may_end_at_the_close_of_office_by_policy() -> None:
    policy = DeadlinePolicy(calendar_units_end_at_close=True)
    got = compute_due(t(2026, 3, 2, 10), Limit(15, LimitUnit.DAYS), CAL, policy=policy).due_at
    assert got == t(2026, 3, 17, 17)


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(t(2026, 1, 31, 9), 1) == t(2026, 2, 28, 9)
    assert add_months(t(2026, 12, 15, 9), 2) == t(2027, 2, 15, 9)
    assert add_months(t(2026, 3, 31, 9), 12) == t(2027, 3, 31, 9)


def test_explanation_names_the_skipped_days() -> None:
    comp = compute_due(t(2026, 2, 12, 9), Limit(3, WD), CAL)
    text = comp.explain()
    assert "Tết Nguyên Đán Mon 16/02–Fri 20/02/2026" in text
    assert "weekend days skipped" in text and text.splitlines()[-1] == "due: Tue 24/02/2026 09:00 +07:00"
    comp = compute_due(t(2026, 1, 9, 9), Limit(2, WD), CAL)
    assert "Sat 10/01/2026 is a make-up working day" in comp.explain()
    comp = compute_due(t(2026, 3, 3, 10), Limit(5, LimitUnit.DAYS), CAL)
    assert "not a working day (Sunday)" in comp.explain()
    assert compute_due(t(2026, 2, 12, 9), Limit(3, WD), CAL, explain=False).steps == ()


# -- rule 3: receipt ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "channel", "policy", "expected"),
    [
        (t(2026, 3, 10, 10), Channel.COUNTER, DEFAULT_POLICY, t(2026, 3, 10, 10)),
        (t(2026, 3, 10, 18), Channel.COUNTER, DEFAULT_POLICY, t(2026, 3, 11, 7, 30)),
        (t(2026, 3, 10, 12), Channel.COUNTER, DEFAULT_POLICY, t(2026, 3, 10, 13)),
        (t(2026, 3, 10, 12), Channel.POSTAL, DEFAULT_POLICY, t(2026, 3, 10, 13)),
        (t(2026, 3, 10, 10), Channel.ONLINE, DEFAULT_POLICY, t(2026, 3, 11, 7, 30)),  # next working day
        (t(2026, 3, 10, 6), Channel.ONLINE, DEFAULT_POLICY, t(2026, 3, 10, 7, 30)),  # before opening
        (t(2026, 2, 13, 10), Channel.ONLINE, DEFAULT_POLICY, t(2026, 2, 23, 7, 30)),
        (t(2026, 3, 10, 10), "online", DeadlinePolicy(online_receipt=ReceiptRule.NEXT_OPENING),
         t(2026, 3, 10, 10)),
        (t(2026, 3, 10, 18), "counter", DeadlinePolicy(counter_outside_hours=ReceiptRule.AS_RECEIVED),
         t(2026, 3, 10, 18)),
    ],
)  # fmt: skip
def test_effective_receipt(
    received: datetime, channel: Channel | str, policy: DeadlinePolicy, expected: datetime
) -> None:
    assert effective_receipt(received, channel, CAL, policy) == expected


@pytest.mark.parametrize(
    ("submitted", "received", "now", "late"),
    [
        (t(2026, 3, 9, 9), t(2026, 3, 10, 9), None, False),  # exactly 8 working hours
        (t(2026, 3, 9, 9), t(2026, 3, 10, 9, 1), None, True),
        (t(2026, 3, 13, 16), t(2026, 3, 16, 15), None, False),  # weekend not counted
        (t(2026, 2, 13, 16), t(2026, 2, 23, 15), None, False),  # Tết not counted
        (t(2026, 3, 9, 9), None, t(2026, 3, 10, 10), True),  # still waiting, judged now
        (t(2026, 3, 9, 9), None, None, False),
    ],
)
def test_received_late(
    submitted: datetime, received: datetime | None, now: datetime | None, late: bool
) -> None:
    assert received_late(Channel.ONLINE, submitted, received, CAL, now=now) is late


# -- rule 5: pauses -----------------------------------------------------------------------------


def test_pause_extends_by_its_working_time() -> None:
    received = t(2026, 3, 2, 9)  # Monday; 5 working days → Monday 9/3 09:00
    comp = compute_due(received, Limit(5, WD), CAL, [(t(2026, 3, 3, 9), t(2026, 3, 6, 10))])
    # Tue 09:00–17:00 6.5 h, Wed 8 h, Thu 8 h, Fri 07:30–10:00 2.5 h = 25 h
    assert comp.base_due_at == t(2026, 3, 9, 9)
    assert comp.paused == 25 * H
    assert comp.due_at == t(2026, 3, 12, 10)
    assert "(3 working days 1 h)" in comp.explain()
    assert CAL.working_time_between(comp.receipt_at, comp.due_at) == 40 * H + comp.paused


def test_pauses_outside_the_clock_do_not_count() -> None:
    received = t(2026, 3, 2, 9)
    before = (t(2026, 2, 25, 9), t(2026, 2, 27, 9))
    after_due = PauseSpan(t(2026, 3, 10, 9), t(2026, 3, 12, 9), "supplement")
    comp = compute_due(received, Limit(5, WD), CAL, [before, after_due])
    assert comp.due_at == t(2026, 3, 9, 9) and comp.paused == timedelta(0)
    assert "after the due time: no extension" in comp.explain()


def test_overlapping_pauses_count_once() -> None:
    a = (t(2026, 3, 3, 9), t(2026, 3, 4, 9), "supplement")
    b = (t(2026, 3, 3, 13), t(2026, 3, 5, 9), "financial_obligation")
    merged = merge_pauses([b, a])
    assert merged == [PauseSpan(t(2026, 3, 3, 9), t(2026, 3, 5, 9), "supplement+financial_obligation")]
    comp = compute_due(t(2026, 3, 2, 9), Limit(5, WD), CAL, [a, b])
    assert comp.paused == 16 * H
    with pytest.raises(ValueError, match="before it starts"):
        merge_pauses([(t(2026, 3, 5, 9), t(2026, 3, 4, 9))])


def test_open_pause_without_now_leaves_the_due_time_unknown() -> None:
    comp = compute_due(t(2026, 3, 2, 9), Limit(5, WD), CAL, [(t(2026, 3, 3, 9), None)])
    assert comp.due_at is None and comp.clock_stopped and not comp.provisional
    assert comp.base_due_at == t(2026, 3, 9, 9)
    assert comp.to_json()["due_at"] is None


def test_open_pause_with_now_is_provisional() -> None:
    now = t(2026, 3, 5, 9)  # 2 working days + 0 h after the pause began
    comp = compute_due(t(2026, 3, 2, 9), Limit(5, WD), CAL, [(t(2026, 3, 3, 9), None)], now=now)
    assert comp.provisional and comp.clock_stopped
    assert comp.due_at == t(2026, 3, 11, 9)
    assert judge_outcome(comp.due_at, None, now) is Outcome.PENDING


def test_pause_on_comes_from_the_version_or_the_policy() -> None:
    cat = cached_catalogue()
    land = cat.lookup("1.012780", date(2026, 1, 1))
    assert Status.FINANCIAL_OBLIGATION in pausing_statuses(land)
    assert pausing_statuses(cat.lookup("1.001193", date(2026, 1, 1))) == {Status.SUPPLEMENT_REQUESTED}
    assert pausing_statuses(None) == DEFAULT_POLICY.default_pause_on


def test_catalogue_version_and_complex_case() -> None:
    version = cached_catalogue().lookup("2.000488", date(2026, 3, 2))
    normal = compute_due(t(2026, 3, 2, 9), version, CAL).due_at
    complex_ = compute_due(t(2026, 3, 2, 9), version, CAL, complex_case=True).due_at
    assert normal == t(2026, 3, 16, 9)  # 10 working days
    assert complex_ == t(2026, 3, 23, 9)  # 15 working days


def test_inter_agency_steps_split_the_limit() -> None:
    version = cached_catalogue().lookup("1.012780", date(2026, 3, 2))  # 10 wd: 70 % then 30 %
    steps = step_due_times(t(2026, 3, 2, 9), version, CAL)
    assert [d for _, d in steps] == [t(2026, 3, 11, 9), t(2026, 3, 16, 9)]


# -- rule 6: extensions -------------------------------------------------------------------------


def test_extension_keeps_both_dates() -> None:
    comp = compute_due(t(2026, 3, 2, 9), Limit(5, WD), CAL).with_extension(t(2026, 3, 20, 17))
    assert comp.due_at == t(2026, 3, 9, 9) and comp.extended_due_at == t(2026, 3, 20, 17)
    assert comp.judged_due_at() == t(2026, 3, 9, 9)
    assert comp.tracking_due_at == t(2026, 3, 20, 17)
    lenient = DeadlinePolicy(extension_judged_against=ExtensionJudgement.EXTENDED)
    assert comp.judged_due_at(lenient) == t(2026, 3, 20, 17)
    assert "extended to Fri 20/03/2026 17:00" in comp.explain()


# -- rule 7: outcome ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due_at", "ended_at", "now", "outcome"),
    [
        (t(2026, 3, 9, 9), None, t(2026, 3, 9, 9), Outcome.PENDING),  # due now: not yet overdue
        (t(2026, 3, 9, 9), None, t(2026, 3, 9, 9, 1), Outcome.OVERDUE),
        (t(2026, 3, 9, 9), t(2026, 3, 9, 9), t(2026, 3, 20), Outcome.ON_TIME),  # end ≤ due
        (t(2026, 3, 9, 9), t(2026, 3, 9, 9, 1), t(2026, 3, 20), Outcome.OVERDUE),
        (t(2026, 3, 9, 9), t(2026, 3, 6, 9), t(2026, 3, 20), Outcome.ENDED_EARLY),  # 1 working day
        (t(2026, 3, 9, 9), t(2026, 3, 6, 9, 1), t(2026, 3, 20), Outcome.ON_TIME),  # just under
        (None, None, t(2026, 3, 20), Outcome.PENDING),  # clock stopped
        (None, t(2026, 3, 19), t(2026, 3, 20), Outcome.ON_TIME),
    ],
)
def test_judge_outcome(
    due_at: datetime | None, ended_at: datetime | None, now: datetime, outcome: Outcome
) -> None:
    assert judge_outcome(due_at, ended_at, now, DEFAULT_POLICY.early_margin, CAL) is outcome


def test_early_margin_in_wall_time_without_a_calendar() -> None:
    # Friday 09:00 → Monday 09:00 is 72 h of wall time but 8 h of working time
    assert judge_outcome(t(2026, 3, 9, 9), t(2026, 3, 6, 9, 1), t(2026, 3, 20), 24 * H) is Outcome.ENDED_EARLY
    assert (
        judge_outcome(t(2026, 3, 9, 9), t(2026, 3, 6, 9, 1), t(2026, 3, 20), 24 * H, CAL) is Outcome.ON_TIME
    )
    assert judge_outcome(t(2026, 3, 9, 9), t(2026, 3, 6), t(2026, 3, 20), timedelta(0)) is Outcome.ON_TIME


def test_overdue_and_near_deadline() -> None:
    d = t(2026, 3, 9, 9)
    assert overdue_now(d, None, t(2026, 3, 9, 10)) and not overdue_now(d, t(2026, 3, 9, 10), t(2026, 3, 10))
    assert not overdue_now(None, None, t(2030, 1, 1))
    assert near_deadline(d, t(2026, 3, 6, 9), CAL)  # Friday 09:00: 8 working hours left
    assert not near_deadline(d, t(2026, 3, 6, 8, 59), CAL)
    assert not near_deadline(d, t(2026, 3, 9, 9), CAL)  # due: overdue, not near


# -- properties ---------------------------------------------------------------------------------

SAT_CAL = BusinessCalendar(OfficeHours.from_spans(["07:30-11:30", "13:00-17:00"], ["07:30-11:30"]))
calendars = st.sampled_from([CAL, SAT_CAL])
instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 10, 1)).map(
    lambda d: d.replace(tzinfo=VN_TZ)
)
units = st.sampled_from(list(LimitUnit))
channels = st.sampled_from([Channel.COUNTER, Channel.ONLINE])


def limit_of(unit: LimitUnit, value: int) -> Limit:
    return Limit(0 if unit is LimitUnit.SAME_DAY else value, unit)


@st.composite
def pause_lists(draw: st.DrawFn, start: datetime) -> list[tuple[datetime, datetime | None]]:
    out: list[tuple[datetime, datetime | None]] = []
    for _ in range(draw(st.integers(0, 3))):
        a = start + timedelta(minutes=draw(st.integers(-3000, 60_000)))
        out.append((a, a + timedelta(minutes=draw(st.integers(0, 20_000)))))
    return out


@settings(max_examples=300, deadline=None)
@given(calendars, instants, units, st.integers(1, 40), st.integers(1, 40), channels, st.booleans())
def test_due_is_monotone_in_the_limit(
    cal: BusinessCalendar,
    received: datetime,
    unit: LimitUnit,
    a: int,
    b: int,
    channel: Channel,
    at_close: bool,
) -> None:
    assume(unit is not LimitUnit.MONTHS or max(a, b) <= 12)
    policy = DeadlinePolicy(calendar_units_end_at_close=at_close)
    lo, hi = sorted((a, b))
    d_lo = compute_due(
        received, limit_of(unit, lo), cal, channel=channel, policy=policy, explain=False
    ).due_at
    d_hi = compute_due(
        received, limit_of(unit, hi), cal, channel=channel, policy=policy, explain=False
    ).due_at
    assert d_lo is not None and d_hi is not None
    if unit in (LimitUnit.DAYS, LimitUnit.MONTHS) and not at_close:
        # The default (docs/domain-rules.md §4) keeps the receipt's clock time but moves a day off to
        # the *close* of the next working day: only the due *date* is monotone (see the test below)
        assert d_lo.date() <= d_hi.date()
    else:
        assert d_lo <= d_hi
    if unit.counts_working_time and unit is not LimitUnit.SAME_DAY and lo < hi:
        assert d_lo < d_hi


def test_calendar_days_default_is_monotone_by_date_only() -> None:
    received = t(2024, 2, 19, 7, 30)  # Monday opening
    assert due(received, 19, LimitUnit.DAYS) == t(2024, 3, 11, 17)  # Sat 9/3 → Monday's close
    assert due(received, 21, LimitUnit.DAYS) == t(2024, 3, 11, 7, 30)  # Monday 11/3 itself
    at_close = DeadlinePolicy(calendar_units_end_at_close=True)
    assert due(received, 21, LimitUnit.DAYS, policy=at_close) == t(2024, 3, 11, 17)


@settings(max_examples=300, deadline=None)
@given(calendars, instants, units, st.integers(1, 12), st.data())
def test_pauses_only_move_the_due_time_later(
    cal: BusinessCalendar, received: datetime, unit: LimitUnit, n: int, data: st.DataObject
) -> None:
    pauses = data.draw(pause_lists(received))
    plain = compute_due(received, limit_of(unit, n), cal, explain=False)
    paused = compute_due(received, limit_of(unit, n), cal, pauses, explain=False)
    assert plain.due_at is not None and paused.due_at is not None
    assert paused.due_at >= plain.due_at
    assert cal.working_time_between(plain.due_at, paused.due_at) == paused.paused
    assert (paused.paused > timedelta(0)) == (paused.due_at > plain.due_at)


@settings(max_examples=300, deadline=None)
@given(calendars, instants, units, st.integers(1, 30), channels, st.data())
def test_due_is_in_office_hours_of_a_working_day(
    cal: BusinessCalendar, received: datetime, unit: LimitUnit, n: int, channel: Channel, data: st.DataObject
) -> None:
    assume(unit is not LimitUnit.MONTHS or n <= 12)
    comp = compute_due(received, limit_of(unit, n), cal, data.draw(pause_lists(received)), channel=channel)
    assert comp.due_at is not None
    assert cal.is_working_day(comp.due_at.date())
    assert comp.due_at > comp.receipt_at >= received
    if unit.counts_working_time:
        assert cal.within_office_hours(comp.due_at)
    if unit is LimitUnit.WORKING_DAYS:  # exactly n working days of clock time, plus the pauses
        spent = cal.working_time_between(comp.receipt_at, comp.due_at)
        assert spent == n * DEFAULT_POLICY.working_day + comp.paused
    if unit is LimitUnit.SAME_DAY and not comp.paused:
        assert comp.due_at == cal.close_of_day(comp.due_at.date())


@settings(max_examples=150, deadline=None)
@given(
    instants, units, st.integers(1, 30), st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))
)
def test_a_calendar_missing_a_holiday_never_gives_a_later_due(
    received: datetime, unit: LimitUnit, n: int, holiday: date
) -> None:
    assume(unit is not LimitUnit.MONTHS or n <= 12)
    assume(not CAL.is_working_day(holiday))
    wrong = CAL.variant(drop_holidays=[holiday])
    legal = compute_due(received, limit_of(unit, n), CAL, explain=False).due_at
    source = compute_due(received, limit_of(unit, n), wrong, explain=False).due_at
    assert legal is not None and source is not None and source <= legal


@settings(max_examples=150, deadline=None)
@given(instants, st.integers(1, 10), st.integers(0, 10_000))
def test_extension_never_changes_the_judged_date(received: datetime, n: int, minutes: int) -> None:
    comp = compute_due(received, Limit(n, WD), CAL, explain=False)
    assert comp.due_at is not None
    ext = comp.with_extension(comp.due_at + timedelta(minutes=minutes))
    assert (
        ext.judged_due_at() == comp.due_at
        and replace(ext, extended_due_at=None).tracking_due_at == comp.due_at
    )


# -- one definition per rule: near deadline (§9) and received late (§3) --------------------------


def test_near_deadline_begins_at_the_close_before_the_last_working_day() -> None:
    # Due Monday 9 Mar 2026 17:00, one working day's threshold: the last 8 working hours are all of
    # Monday, so the state begins at Friday's close and holds all weekend (the case where the
    # worker used to fire only at Monday 07:30 while the state predicate said "near" since Friday).
    due = t(2026, 3, 9, 17)
    assert near_deadline_from(due, CAL, 8 * H) == t(2026, 3, 6, 17)
    assert near_deadline(due, t(2026, 3, 6, 17), CAL)
    assert near_deadline(due, t(2026, 3, 7, 10), CAL)  # Saturday: counted as near
    assert not near_deadline(due, t(2026, 3, 6, 16, 59), CAL)
    # Mid-day: the state begins exactly 8 working hours before (Friday 15:00 for Monday 15:00);
    # across the lunch break, at the break's start.
    assert near_deadline_from(t(2026, 3, 9, 15), CAL, 8 * H) == t(2026, 3, 6, 15)
    assert near_deadline_from(t(2026, 3, 10, 13), CAL, 8 * H) == t(2026, 3, 9, 11, 30)


def test_received_late_begins_at_the_first_working_instant_past_the_allowance() -> None:
    # Submitted online Thursday 5 Mar 2026 17:00 (after close): the 8 h allowance is all of Friday;
    # late from Monday's opening (plus the first microsecond of working time), not Friday 17:00.
    submitted = t(2026, 3, 5, 17)
    start = received_late_from(submitted, CAL)
    assert t(2026, 3, 9, 7, 30) < start < t(2026, 3, 9, 7, 31)
    assert not received_late(Channel.ONLINE, submitted, None, CAL, now=t(2026, 3, 8, 12))
    assert received_late(Channel.ONLINE, submitted, None, CAL, now=start)
    assert not received_late(Channel.COUNTER, submitted, None, CAL, now=t(2026, 3, 20))


@given(st.sampled_from([CAL, SAT_CAL]), st.integers(0, 3 * 365 * 24 * 4), st.integers(0, 5 * 24 * 4),
       st.integers(0, 16 * 4))  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_near_deadline_is_the_working_time_left(
    cal: BusinessCalendar, due_q: int, back_q: int, th_q: int
) -> None:
    due = t(2024, 1, 1) + due_q * timedelta(minutes=15)
    now = due - back_q * timedelta(minutes=15)
    threshold = th_q * timedelta(minutes=15)
    expected = now < due and cal.working_time_between(now, due) <= threshold
    assert near_deadline(due, now, cal, threshold) is expected


@given(st.sampled_from([CAL, SAT_CAL]), st.integers(0, 3 * 365 * 24 * 4), st.integers(0, 5 * 24 * 4))
@settings(max_examples=300, deadline=None)
def test_received_late_is_more_than_the_allowance(cal: BusinessCalendar, sub_q: int, wait_q: int) -> None:
    submitted = t(2024, 1, 1) + sub_q * timedelta(minutes=15)
    received = submitted + wait_q * timedelta(minutes=15)
    expected = cal.working_time_between(submitted, received) > DEFAULT_POLICY.receipt_allowance
    assert received_late(Channel.ONLINE, submitted, received, cal) is expected
