"""The business calendar: holidays, swaps, office hours, working-time arithmetic (docs/domain-rules.md §2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.calendar import BusinessCalendar, CalendarError, DayKind
from streams.domain.officehours import OfficeHours, OfficeHoursError, parse_spans
from streams.domain.overrides import OverridesError, parse_overrides
from streams.domain.units import CalendarBook, UnitHoursTable, parse_office_hours
from streams.model import VN_TZ

CAL = BusinessCalendar()
SAT_HOURS = OfficeHours.from_spans(["07:30-11:30", "13:00-17:00"], ["07:30-11:30"])
SAT_CAL = BusinessCalendar(SAT_HOURS)
H = timedelta(hours=1)


def t(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=VN_TZ)


# -- which days are working days ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working", "reason_part"),
    [
        (date(2026, 1, 1), False, "Tết Dương lịch"),
        (date(2026, 1, 2), False, "hoán đổi"),  # swapped for Saturday 10 Jan (override table)
        (date(2026, 1, 10), True, None),  # the make-up Saturday
        (date(2026, 1, 17), False, "Saturday"),
        (date(2026, 1, 18), False, "Sunday"),
        (date(2026, 2, 13), True, None),  # Friday before Tết
        (date(2026, 2, 16), False, "Tết Nguyên Đán"),
        (date(2026, 2, 17), False, "Tết Nguyên Đán"),
        (date(2026, 2, 20), False, "Tết Nguyên Đán"),
        (date(2026, 2, 23), True, None),
        (date(2026, 4, 27), False, "Hùng Vương"),  # 10/3 lunar on Sunday 26/4: observed Monday
        (date(2026, 4, 30), False, "Chiến thắng"),
        (date(2026, 5, 1), False, "Lao động"),
        (date(2026, 9, 1), False, "Quốc khánh"),
        (date(2026, 9, 2), False, "Quốc khánh"),
        (date(2026, 9, 3), True, None),
        (date(2026, 11, 24), True, None),  # Culture Day is off only behind its setting
        (date(2025, 1, 27), False, "Tết"),
        (date(2025, 5, 2), False, "hoán đổi"),
        (date(2025, 4, 26), True, None),  # make-up Saturday of 2025
        (date(2025, 9, 1), False, "Quốc khánh"),
        (date(2024, 4, 29), False, "hoán đổi"),
        (date(2024, 5, 4), True, None),
        (date(2024, 9, 3), False, "Quốc khánh"),
        (date(2027, 5, 3), False, "Lao động"),  # 1 May 2027 is a Saturday: Monday off
    ],
)
def test_working_days_and_reasons(day: date, working: bool, reason_part: str | None) -> None:
    assert CAL.is_working_day(day) is working
    reason = CAL.why_not_working(day)
    if working:
        assert reason is None
    else:
        assert reason is not None and reason_part is not None and reason_part in reason


def test_culture_day_behind_its_setting() -> None:
    with_culture = CAL.variant(culture_day=True)
    assert not with_culture.is_working_day(date(2026, 11, 24))
    assert "Văn hóa" in (with_culture.why_not_working(date(2026, 11, 24)) or "")
    assert CAL.is_working_day(date(2026, 11, 24))


def test_make_up_saturday_has_weekday_hours() -> None:
    info = CAL.day_info(date(2026, 1, 10))
    assert info.kind is DayKind.MAKEUP and info.label and "02/01/2026" in info.label
    assert CAL.working_intervals(date(2026, 1, 10)) == [
        (t(2026, 1, 10, 7, 30), t(2026, 1, 10, 11, 30)),
        (t(2026, 1, 10, 13), t(2026, 1, 10, 17)),
    ]


def test_special_days_of_2026_list_swaps_and_holidays() -> None:
    kinds = {i.day: i.kind for i in CAL.special_days(2026)}
    assert kinds[date(2026, 1, 2)] is DayKind.SWAPPED_OFF
    assert kinds[date(2026, 1, 10)] is DayKind.MAKEUP
    assert kinds[date(2026, 2, 17)] is DayKind.HOLIDAY
    assert date(2026, 1, 17) not in kinds  # plain weekends are not "special"


def test_saturday_morning_units() -> None:
    sat = date(2026, 3, 14)
    assert SAT_CAL.is_working_day(sat) and not CAL.is_working_day(sat)
    assert SAT_CAL.close_of_day(sat) == t(2026, 3, 14, 11, 30)
    # a holiday on a Saturday stays a holiday for them (1 May 2027)
    assert not SAT_CAL.is_working_day(date(2027, 5, 1))
    # Friday 16:00 + 2 h: one hour on Friday, one on Saturday morning
    assert SAT_CAL.add_working_time(t(2026, 3, 13, 16), 2 * H) == t(2026, 3, 14, 8, 30)


# -- instants -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (t(2026, 3, 9, 9), t(2026, 3, 9, 9)),  # open: itself
        (t(2026, 3, 9, 6), t(2026, 3, 9, 7, 30)),
        (t(2026, 3, 9, 12), t(2026, 3, 9, 13)),  # lunch break
        (t(2026, 3, 9, 17), t(2026, 3, 10, 7, 30)),  # the closing instant is closed
        (t(2026, 3, 13, 18), t(2026, 3, 16, 7, 30)),  # Friday evening → Monday
        (t(2026, 2, 13, 17, 30), t(2026, 2, 23, 7, 30)),  # across Tết
        (t(2026, 1, 9, 18), t(2026, 1, 10, 7, 30)),  # Friday evening → make-up Saturday
    ],
)
def test_next_opening(at: datetime, expected: datetime) -> None:
    assert CAL.next_opening(at) == expected


@pytest.mark.parametrize(
    ("start", "delta", "expected"),
    [
        (
            t(2026, 3, 9, 9),
            24 * H,
            t(2026, 3, 12, 9),
        ),  # docs/domain-rules.md §4: Mon 09:00 + 3 wd → Thu 09:00
        (t(2026, 3, 9, 7, 30), 8 * H, t(2026, 3, 9, 17)),  # earliest: the close, not next opening
        (t(2026, 3, 9, 11), H, t(2026, 3, 9, 13, 30)),  # across lunch
        (t(2026, 3, 13, 16), 2 * H, t(2026, 3, 16, 8, 30)),  # across the weekend
        (t(2026, 2, 12, 9), 16 * H, t(2026, 2, 23, 9)),  # Thu before Tết + 2 wd → Mon after
        (t(2025, 12, 31, 9), 24 * H, t(2026, 1, 7, 9)),  # 1 and 2 Jan off, year boundary
        (t(2026, 1, 9, 9), 8 * H, t(2026, 1, 10, 9)),  # Friday + 1 wd → make-up Saturday
        (t(2026, 3, 10, 7, 30), -8 * H, t(2026, 3, 9, 7, 30)),  # backward: latest (an opening)
        (t(2026, 3, 9, 20), timedelta(0), t(2026, 3, 9, 20)),
        (t(2026, 3, 9, 20), H, t(2026, 3, 10, 8, 30)),  # from outside office hours
    ],
)
def test_add_working_time(start: datetime, delta: timedelta, expected: datetime) -> None:
    assert CAL.add_working_time(start, delta) == expected


def test_working_time_between() -> None:
    assert CAL.working_time_between(t(2026, 3, 9, 9), t(2026, 3, 12, 9)) == 24 * H
    assert CAL.working_time_between(t(2026, 3, 9, 11), t(2026, 3, 9, 14)) == 1.5 * H  # lunch not counted
    assert CAL.working_time_between(t(2026, 2, 13, 17), t(2026, 2, 23, 7, 30)) == timedelta(0)
    assert CAL.working_time_between(t(2026, 3, 12, 9), t(2026, 3, 9, 9)) == -24 * H
    # 2026: 261 weekdays - 13 weekdays off + 2 make-up Saturdays = 250 working days
    assert CAL.working_time_between(t(2026, 1, 1), t(2027, 1, 1)) == 250 * 8 * H


def test_other_offsets_are_converted() -> None:
    utc = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)  # 09:00 in Vietnam
    assert CAL.add_working_time(utc, 24 * H) == t(2026, 3, 12, 9)
    assert CAL.add_working_time(utc, 24 * H).utcoffset() == timedelta(hours=7)


def test_naive_and_out_of_range_are_refused() -> None:
    with pytest.raises(CalendarError, match="UTC offset"):
        CAL.next_opening(datetime(2026, 3, 9, 9))
    with pytest.raises(CalendarError, match="outside"):
        CAL.is_working_day(date(2300, 1, 1))


# -- variants: a source system's wrong calendar ---------------------------------------------------


def test_variant_without_a_swap() -> None:
    wrong = CAL.variant(ignore_overrides=[date(2026, 1, 2), date(2026, 1, 10)])
    assert wrong.is_working_day(date(2026, 1, 2)) and not wrong.is_working_day(date(2026, 1, 10))
    assert CAL.add_working_time(t(2026, 1, 1, 9), 8 * H) == t(2026, 1, 5, 17)  # legal: Mon close
    assert wrong.add_working_time(t(2026, 1, 1, 9), 8 * H) == t(2026, 1, 2, 17)


def test_variant_without_a_holiday_and_without_a_make_up_day() -> None:
    no_tet_eve = CAL.variant(drop_holidays=[date(2026, 2, 16)])
    assert no_tet_eve.is_working_day(date(2026, 2, 16))
    assert not no_tet_eve.is_working_day(date(2026, 2, 17))
    closed_saturday = CAL.variant(drop_makeup_days=[date(2026, 1, 10)])
    assert closed_saturday.why_not_working(date(2026, 1, 10)) == "Saturday"
    package_only = CAL.variant(ignore_overrides=True)
    assert package_only.is_working_day(date(2026, 1, 2))
    assert not package_only.is_working_day(date(2026, 2, 17))
    extra = CAL.variant(extra_days_off={date(2026, 3, 9): "Nghỉ (sai cấu hình)"})
    assert extra.why_not_working(date(2026, 3, 9)) == "Nghỉ (sai cấu hình)"
    assert CAL.is_working_day(date(2026, 3, 9))  # the original is untouched


# -- data files ---------------------------------------------------------------------------------


def test_office_hours_spans_are_checked() -> None:
    assert parse_spans(["13:00-17:00", "07:30-11:30"])[0][0] == 7.5 * 3600 * 1_000_000
    for bad in (["7h30-11h30"], ["11:30-07:30"], ["07:30-12:00", "11:00-17:00"], ["25:00-26:00"]):
        with pytest.raises(OfficeHoursError):
            parse_spans(bad)


def test_unit_table_and_book_share_calendars() -> None:
    table = parse_office_hours({"default": {}, "units": {"W1": {"saturday": ["07:30-11:30"]}, "W2": {}}})
    book = CalendarBook(table)
    assert book.for_unit("W1").is_working_day(date(2026, 3, 14))
    assert not book.for_unit("W2").is_working_day(date(2026, 3, 14))
    assert book.for_unit("W2") is book.for_unit(None) is book.for_unit("unknown")
    assert UnitHoursTable().hours_for("x") == OfficeHours.default()
    with pytest.raises(OfficeHoursError, match=r"units\.W3"):
        parse_office_hours({"units": {"W3": {"weekday": ["nope"]}}})


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({2026: {"days_off": [{"date": "2026-01-03", "name": "x"}]}}, "weekend day already"),
        ({2026: {"working_saturdays": [{"date": "2026-01-09", "name": "x"}]}}, "not a weekend day"),
        ({2026: {"days_off": [{"date": "2025-01-02", "name": "x"}]}}, "not in year 2026"),
        ({2026: {"days_off": [{"date": "2026-13-02", "name": "x"}]}}, "expected YYYY-MM-DD"),
        ({2026: {"days_off": [{"date": "2026-01-02"}]}}, "required"),
        ({2026: {"holidays": []}}, "expected keys"),
    ],
)
def test_override_table_is_validated(doc: object, message: str) -> None:
    with pytest.raises(OverridesError, match=message):
        parse_overrides(doc)


# -- properties ---------------------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 1)).map(
    lambda d: d.replace(tzinfo=VN_TZ)
)
durations = st.integers(min_value=0, max_value=60 * 8 * 3600).map(lambda s: timedelta(seconds=s))
calendars = st.sampled_from([CAL, SAT_CAL, CAL.variant(ignore_overrides=True)])
positive = durations.filter(lambda d: d > timedelta(0))


def _reference_add(cal: BusinessCalendar, start: datetime, delta: timedelta) -> datetime:
    """Slow, obviously-correct walk over days and intervals (earliest instant)."""
    left = delta
    day = start.date()
    while True:
        for a, b in cal.working_intervals(day):
            lo = max(a, start)
            if lo >= b:
                continue
            if b - lo >= left:
                return lo + left
            left -= b - lo
        day += timedelta(days=1)


@settings(max_examples=300, deadline=None)
@given(calendars, instants, positive)
def test_add_working_time_matches_a_day_by_day_walk(cal: BusinessCalendar, a: datetime, d: timedelta) -> None:
    assert cal.add_working_time(a, d) == _reference_add(cal, a, d)


@settings(max_examples=300, deadline=None)
@given(calendars, instants, st.integers(min_value=-40 * 8 * 3600, max_value=40 * 8 * 3600))
def test_add_and_between_are_inverse(cal: BusinessCalendar, a: datetime, seconds: int) -> None:
    d = timedelta(seconds=seconds)
    b = cal.add_working_time(a, d)
    assert cal.working_time_between(a, b) == d
    assert (b >= a) if seconds >= 0 else (b < a)
    if seconds:
        assert cal.within_office_hours(b)


@settings(max_examples=200, deadline=None)
@given(calendars, instants, instants)
def test_between_then_add_returns_to_an_open_instant(cal: BusinessCalendar, a: datetime, b: datetime) -> None:
    back = cal.add_working_time(a, cal.working_time_between(a, b))
    assert cal.working_time_between(back, b) == timedelta(0)
    if cal.is_open(b) and b > a:
        assert back == b


@settings(max_examples=200, deadline=None)
@given(calendars, instants, positive, positive)
def test_add_working_time_composes(cal: BusinessCalendar, a: datetime, d1: timedelta, d2: timedelta) -> None:
    assert cal.add_working_time(cal.add_working_time(a, d1), d2) == cal.add_working_time(a, d1 + d2)


@settings(max_examples=200, deadline=None)
@given(calendars, instants)
def test_next_opening_is_open_and_nothing_opens_before_it(cal: BusinessCalendar, a: datetime) -> None:
    nxt = cal.next_opening(a)
    assert nxt >= a and cal.is_open(nxt)
    assert cal.working_time_between(a, nxt) == timedelta(0)


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)))
def test_dropping_a_holiday_never_removes_working_days(d: date) -> None:
    fewer = CAL.variant(drop_holidays=[d])
    assert fewer.is_working_day(d) == (d.weekday() < 5 or CAL.is_working_day(d))
    assert fewer.working_time_between(t(2024, 1, 1), t(2028, 1, 1)) >= CAL.working_time_between(
        t(2024, 1, 1), t(2028, 1, 1)
    )
