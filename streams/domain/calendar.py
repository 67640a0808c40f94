"""The Vietnamese business calendar (docs/domain-rules.md §2): working days, office hours, holidays, swaps.

Sources, in order of precedence for one date:

1. ``extra_days_off`` given to a calendar (a variant's own idea of a holiday);
2. the yearly override table (``data/calendar_overrides.yaml``): swapped days off and make-up
   working Saturdays announced each year;
3. the statutory holidays of the ``holidays`` package (Labour Code Art. 112, with its observed
   and substituted days), Vietnamese names; 24 Nov (Culture Day) only when ``culture_day`` is on;
4. Monday–Friday are working days; Saturday is one for units that receive on Saturday morning.

Working time is measured as a *position*: the microseconds of office time since a fixed origin.
Each year's positions are computed once (cumulative sums per day), so ``add_working_time`` and
``working_time_between`` cost a bisection and a few integer operations, whatever the distance.
Everything returned is timezone-aware in Asia/Ho_Chi_Minh (``VN_TZ``); naive input is refused.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache

import holidays

from streams.domain.officehours import DEFAULT_HOURS, US_PER_SECOND, Interval, OfficeHours
from streams.domain.overrides import EMPTY_OVERRIDES, CalendarOverrides, packaged_overrides
from streams.model import VN_TZ

MIN_YEAR, MAX_YEAR = 1995, 2199  # beyond this a computation is surely a unit error in the caller
_ONE_US = timedelta(microseconds=1)
_CULTURE_DAY = "Văn hóa Việt Nam"
_SUBSTITUTED = re.compile(r"thay cho ngày (\d{2})/(\d{2})/(\d{4})")
_WEEKDAY_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class CalendarError(ValueError):
    """A date or time the calendar cannot work with (naive, out of range)."""


class DayKind(StrEnum):
    WORKDAY = "workday"  # Monday–Friday
    MAKEUP = "makeup"  # weekend day worked as a weekday (làm bù)
    SATURDAY = "saturday"  # plain Saturday of a unit that receives on Saturday morning
    WEEKEND = "weekend"
    HOLIDAY = "holiday"  # statutory holiday (or its observed day)
    SWAPPED_OFF = "swapped_off"  # weekday off by a yearly swap


@dataclass(frozen=True, slots=True)
class DayInfo:
    day: date
    kind: DayKind
    intervals: tuple[Interval, ...]
    label: str | None  # holiday or swap name (Vietnamese), "Saturday"/"Sunday", make-up note
    work_us: int

    @property
    def working(self) -> bool:
        return self.work_us > 0

    @property
    def why_not(self) -> str | None:
        return None if self.working else self.label


def day_name(d: date) -> str:
    """``Sat 10/01/2026``: how explanations name a day."""
    return f"{_WEEKDAY_EN[d.weekday()]} {d:%d/%m/%Y}"


def holiday_blocks(days: Iterable[date]) -> list[tuple[date, ...]]:
    """Days off grouped into holiday periods (Tết, 30/4–1/5, Quốc khánh with its swapped day).

    A calendar goes wrong a period at a time: a decree or a lunar date that never reached it, not
    one day in the middle of Tết. Days off with only a weekend between them (Friday and Monday)
    are one period; a weekday between them separates two (Hùng Kings observed on Monday 27/4
    and 30/4–1/5 are two decrees' worth of days, not one)."""
    blocks: list[list[date]] = []
    for d in sorted(set(days)):
        if blocks and _only_weekend_between(blocks[-1][-1], d):
            blocks[-1].append(d)
        else:
            blocks.append([d])
    return [tuple(b) for b in blocks]


def _only_weekend_between(a: date, b: date) -> bool:
    return all((a + timedelta(days=i)).weekday() >= 5 for i in range(1, (b - a).days))


@lru_cache(maxsize=256)
def statutory_holidays(year: int) -> tuple[Mapping[date, str], frozenset[date]]:
    """The ``holidays`` package's Vietnam calendar for one year: names (Vietnamese) and the
    weekend days it knows to be make-up working days. Shared by every calendar (pure data)."""
    try:
        h = holidays.country_holidays("VN", years=year, language="vi")
    except NotImplementedError:  # an old package version without Vietnamese names
        h = holidays.country_holidays("VN", years=year)
    names = {d: str(n) for d, n in h.items() if d.year == year}
    workdays = frozenset(d for d in getattr(h, "weekend_workdays", ()) if d.year == year)
    return names, workdays


def _makeup_label_from_package(day: date, names: Mapping[date, str]) -> str:
    for off, name in names.items():
        m = _SUBSTITUTED.search(name)
        if m and date(int(m[3]), int(m[2]), int(m[1])) == day:
            return f"Làm bù cho ngày {off:%d/%m/%Y}"
    return "Ngày làm bù"


@dataclass(frozen=True, slots=True)
class _YearBlock:
    first_ordinal: int
    days: tuple[DayInfo, ...]
    cum: tuple[int, ...]  # working µs before each day (len = days + 1), from 1 Jan 00:00

    @property
    def total(self) -> int:
        return self.cum[-1]


class BusinessCalendar:
    """Working days and office hours of one unit (or of one source system's idea of them).

    Build the legal calendar with defaults, a unit's with its ``OfficeHours``, and a faulty
    source system's with :meth:`variant`. Instances cache per-year computations: build one per
    configuration and reuse it (see ``streams.domain.units.calendar_for``).
    """

    def __init__(
        self,
        hours: OfficeHours = DEFAULT_HOURS,
        overrides: CalendarOverrides | None = None,
        *,
        culture_day: bool = False,
        drop_holidays: Iterable[date] = (),
        drop_makeup_days: Iterable[date] = (),
        extra_days_off: Mapping[date, str] | None = None,
        name: str = "legal",
    ) -> None:
        self.hours = hours
        self.overrides = packaged_overrides() if overrides is None else overrides
        self.culture_day = culture_day
        self.drop_holidays = frozenset(drop_holidays)
        self.drop_makeup_days = frozenset(drop_makeup_days)
        self.extra_days_off: Mapping[date, str] = dict(extra_days_off or {})
        self.name = name
        self._blocks: dict[int, _YearBlock] = {}
        self._offsets: dict[int, int] = {}
        self._epoch: int | None = None

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.name!r}, {self.hours.describe()})"

    # -- variants ---------------------------------------------------------------------------

    def variant(
        self,
        *,
        drop_holidays: Iterable[date] = (),
        drop_makeup_days: Iterable[date] = (),
        ignore_overrides: bool | Iterable[date] = False,
        extra_days_off: Mapping[date, str] | None = None,
        hours: OfficeHours | None = None,
        culture_day: bool | None = None,
        name: str | None = None,
    ) -> BusinessCalendar:
        """A calendar that differs from this one the way a source system's wrong one does.

        ``drop_holidays``: dates that it treats as ordinary days (a statutory holiday or a swapped
        day off it lacks); ``drop_makeup_days``: make-up Saturdays it does not know (it stays
        closed); ``ignore_overrides``: True to use the ``holidays`` package alone, or the dates of
        the override table to ignore; ``extra_days_off``: holidays it has and the law has not.
        """
        if ignore_overrides is True:
            overrides = EMPTY_OVERRIDES
        elif ignore_overrides is False:
            overrides = self.overrides
        else:
            overrides = self.overrides.without(frozenset(ignore_overrides))
        dropped = self.drop_holidays | frozenset(drop_holidays)
        dropped_makeup = self.drop_makeup_days | frozenset(drop_makeup_days)
        extra = {**self.extra_days_off, **(extra_days_off or {})}
        return BusinessCalendar(
            hours or self.hours,
            overrides,
            culture_day=self.culture_day if culture_day is None else culture_day,
            drop_holidays=dropped,
            drop_makeup_days=dropped_makeup,
            extra_days_off=extra,
            name=name or f"{self.name} (variant)",
        )

    # -- days ---------------------------------------------------------------------------------

    def _classify(self, d: date) -> DayInfo:
        names, package_workdays = statutory_holidays(d.year)
        if d in self.extra_days_off:
            return DayInfo(d, DayKind.HOLIDAY, (), self.extra_days_off[d], 0)
        if d not in self.drop_holidays:
            swap = self.overrides.days_off.get(d)
            if swap is not None:
                return DayInfo(d, DayKind.SWAPPED_OFF, (), swap.name, 0)
            name = names.get(d)
            if name is not None and (self.culture_day or _CULTURE_DAY not in name):
                kind = DayKind.SWAPPED_OFF if _SUBSTITUTED.search(name) else DayKind.HOLIDAY
                return DayInfo(d, kind, (), name, 0)
        wd = d.weekday()
        if wd < 5:
            return DayInfo(d, DayKind.WORKDAY, self.hours.weekday, None, self.hours.weekday_us)
        if d not in self.drop_makeup_days:
            makeup = self.overrides.working_days.get(d)
            label = makeup.name if makeup else None
            if label is None and d in package_workdays:
                label = _makeup_label_from_package(d, names)
            if label is not None:
                return DayInfo(d, DayKind.MAKEUP, self.hours.weekday, label, self.hours.weekday_us)
        if wd == 5 and self.hours.saturday:
            sat = self.hours.saturday
            return DayInfo(d, DayKind.SATURDAY, sat, "Saturday morning", sum(e - s for s, e in sat))
        return DayInfo(d, DayKind.WEEKEND, (), "Saturday" if wd == 5 else "Sunday", 0)

    def _block(self, year: int) -> _YearBlock:
        blk = self._blocks.get(year)
        if blk is None:
            if not MIN_YEAR <= year <= MAX_YEAR:
                raise CalendarError(f"year {year} is outside the calendar's range {MIN_YEAR}–{MAX_YEAR}")
            first = date(year, 1, 1).toordinal()
            n = date(year + 1, 1, 1).toordinal() - first
            days = tuple(self._classify(date.fromordinal(first + k)) for k in range(n))
            cum = [0]
            for info in days:
                cum.append(cum[-1] + info.work_us)
            blk = self._blocks[year] = _YearBlock(first, days, tuple(cum))
        return blk

    def _offset(self, year: int) -> int:
        """Position of 1 Jan 00:00 of ``year``, from the first year this calendar was asked about."""
        off = self._offsets.get(year)
        if off is not None:
            return off
        if self._epoch is None:
            self._epoch = year
            self._offsets[year] = 0
            return 0
        step = 1 if year > self._epoch else -1
        known = year
        while known not in self._offsets:
            known -= step
        while known != year:
            if step == 1:
                self._offsets[known + 1] = self._offsets[known] + self._block(known).total
            else:
                self._offsets[known - 1] = self._offsets[known] - self._block(known - 1).total
            known += step
        return self._offsets[year]

    def day_info(self, d: date) -> DayInfo:
        blk = self._block(d.year)
        return blk.days[d.toordinal() - blk.first_ordinal]

    def is_working_day(self, d: date) -> bool:
        return self.day_info(d).working

    def why_not_working(self, d: date) -> str | None:
        """None on a working day; otherwise the reason (holiday name in Vietnamese, "Sunday", ...)."""
        return self.day_info(d).why_not

    def days(self, start: date, end: date) -> list[DayInfo]:
        """Every day from ``start`` to ``end`` inclusive."""
        return [self.day_info(date.fromordinal(o)) for o in range(start.toordinal(), end.toordinal() + 1)]

    def special_days(self, year: int) -> list[DayInfo]:
        """Holidays, swapped days off and make-up working days of a year (not plain weekends)."""
        kinds = {DayKind.HOLIDAY, DayKind.SWAPPED_OFF, DayKind.MAKEUP}
        return [i for i in self._block(year).days if i.kind in kinds]

    def next_working_day(self, d: date, *, include: bool = False) -> date:
        """The first working day after ``d`` (or ``d`` itself when ``include`` and it is one)."""
        o = d.toordinal() if include else d.toordinal() + 1
        while not self.is_working_day(date.fromordinal(o)):
            o += 1
        return date.fromordinal(o)

    def working_intervals(self, d: date) -> list[tuple[datetime, datetime]]:
        """Office hours of a day as aware datetimes (empty on a day that is not a working day)."""
        base = datetime(d.year, d.month, d.day, tzinfo=VN_TZ)
        return [(base + s * _ONE_US, base + e * _ONE_US) for s, e in self.day_info(d).intervals]

    def opening_of_day(self, d: date) -> datetime | None:
        iv = self.working_intervals(d)
        return iv[0][0] if iv else None

    def close_of_day(self, d: date) -> datetime | None:
        """When the office closes on ``d``; None when ``d`` is not a working day."""
        iv = self.working_intervals(d)
        return iv[-1][1] if iv else None

    def close_of_next_working_day(self, d: date, *, include: bool = False) -> datetime:
        close = self.close_of_day(self.next_working_day(d, include=include))
        assert close is not None  # a working day has office hours
        return close

    # -- instants -----------------------------------------------------------------------------

    @staticmethod
    def local(dt: datetime) -> datetime:
        """``dt`` in Asia/Ho_Chi_Minh; naive datetimes are refused (their meaning is a guess)."""
        if dt.tzinfo is None:
            raise CalendarError(f"naive datetime {dt.isoformat()}: give a UTC offset (Vietnam is +07:00)")
        return dt if dt.tzinfo is VN_TZ else dt.astimezone(VN_TZ)

    def _locate(self, dt: datetime) -> tuple[datetime, _YearBlock, int, int]:
        local = self.local(dt)
        blk = self._block(local.year)
        i = local.toordinal() - blk.first_ordinal
        sod = ((local.hour * 60 + local.minute) * 60 + local.second) * US_PER_SECOND + local.microsecond
        return local, blk, i, sod

    def is_open(self, dt: datetime) -> bool:
        """The office is open at ``dt`` (an interval's start included, its end excluded)."""
        _, blk, i, sod = self._locate(dt)
        return any(s <= sod < e for s, e in blk.days[i].intervals)

    def within_office_hours(self, dt: datetime) -> bool:
        """Like :meth:`is_open` but the closing instant counts (a due time at 17:00 is fine)."""
        _, blk, i, sod = self._locate(dt)
        return any(s <= sod <= e for s, e in blk.days[i].intervals)

    def position(self, dt: datetime) -> int:
        """Working microseconds from this calendar's origin to ``dt`` (only differences mean anything)."""
        local, blk, i, sod = self._locate(dt)
        within = 0
        for s, e in blk.days[i].intervals:
            if sod <= s:
                break
            within += (e if sod >= e else sod) - s
        return self._offset(local.year) + blk.cum[i] + within

    def instant_at(self, pos: int, *, earliest: bool, hint_year: int) -> datetime:
        """The instant at working position ``pos``: the earliest one (a closing time rather than the
        next opening) or the latest one (the next opening rather than the previous close)."""
        year = hint_year
        while True:
            off = self._offset(year)
            blk = self._block(year)
            low_ok = off < pos if earliest else off <= pos
            high_ok = pos <= off + blk.total if earliest else pos < off + blk.total
            if not low_ok:
                year -= 1
            elif not high_ok:
                year += 1
            else:
                break
        q = pos - off
        i = (bisect_left(blk.cum, q) if earliest else bisect_right(blk.cum, q)) - 1
        rem = q - blk.cum[i]
        us = 0
        for s, e in blk.days[i].intervals:
            length = e - s
            if rem < length or (earliest and rem == length):
                us = s + rem
                break
            rem -= length
        d = date.fromordinal(blk.first_ordinal + i)
        return datetime(d.year, d.month, d.day, tzinfo=VN_TZ) + us * _ONE_US

    def next_opening(self, dt: datetime) -> datetime:
        """``dt`` when the office is open then, else the next moment it opens."""
        local = self.local(dt)
        return self.instant_at(self.position(local), earliest=False, hint_year=local.year)

    def add_working_time(self, dt: datetime, delta: timedelta, *, earliest: bool | None = None) -> datetime:
        """``dt`` moved by ``delta`` of working time (office hours of working days only).

        Many instants are the same working time away (a close and the next opening). Forward, the
        result is by default the earliest: 8 h from Monday 07:30 is Monday 17:00 (the close), not
        Tuesday 07:30. Backward, by default the latest (an opening rather than the previous
        evening's close); ``earliest`` chooses explicitly. A zero delta returns ``dt``.
        """
        local = self.local(dt)
        d_us = delta // _ONE_US
        if d_us == 0 and earliest is None:
            return local
        first = d_us > 0 if earliest is None else earliest
        return self.instant_at(self.position(local) + d_us, earliest=first, hint_year=local.year)

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
        return (self.position(b) - self.position(a)) * _ONE_US
