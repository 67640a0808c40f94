"""Office hours of a unit (docs/domain-rules.md §2), as plain data.

Default: 07:30–11:30 and 13:00–17:00 on working days (8 working hours). Some wards also receive
on Saturday morning: that is a per-unit setting (``saturday``), and such a Saturday then counts as
working time for that unit (4 hours), unless it is a holiday. A make-up working Saturday (làm bù)
follows the weekday hours, since it replaces a weekday.

Intervals are kept as microseconds since local midnight: the calendar does integer arithmetic on
them in its hot path.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from typing import Any

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND

Interval = tuple[int, int]  # [start, end) in microseconds since local midnight

_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


class OfficeHoursError(ValueError):
    """An office-hours specification that cannot be used."""


def time_to_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * US_PER_SECOND + t.microsecond


def us_to_time(us: int) -> time:
    """The clock time of a microsecond offset; 24:00 is not a ``time``, it is refused."""
    if not 0 <= us < US_PER_DAY:
        raise ValueError(f"{us} µs is not within a day")
    s, micro = divmod(us, US_PER_SECOND)
    return time(s // 3600, (s // 60) % 60, s % 60, micro)


def parse_spans(spans: Iterable[str], what: str = "office hours") -> tuple[Interval, ...]:
    """``["07:30-11:30", "13:00-17:00"]`` → sorted, non-overlapping intervals (checked)."""
    spans = list(spans)
    out: list[Interval] = []
    for text in spans:
        m = _SPAN.match(str(text))
        if not m:
            raise OfficeHoursError(f"{what}: {text!r} is not a span like '07:30-11:30'")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise OfficeHoursError(f"{what}: {text!r} is not a valid time of day")
        start = (h1 * 60 + m1) * 60 * US_PER_SECOND
        end = (h2 * 60 + m2) * 60 * US_PER_SECOND
        if end <= start:
            raise OfficeHoursError(f"{what}: {text!r} ends before it starts")
        out.append((start, end))
    out.sort()
    for (_, e1), (s2, _) in itertools.pairwise(out):
        if s2 < e1:
            raise OfficeHoursError(f"{what}: spans overlap ({spans})")
    return tuple(out)


def format_spans(intervals: Sequence[Interval]) -> str:
    def hhmm(us: int) -> str:
        minutes = us // (60 * US_PER_SECOND)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    return ", ".join(f"{hhmm(s)}–{hhmm(e)}" for s, e in intervals) or "closed"


@dataclass(frozen=True)
class OfficeHours:
    """When a unit's office is open: on weekdays (and make-up Saturdays), and on plain Saturdays."""

    weekday: tuple[Interval, ...]
    saturday: tuple[Interval, ...] = ()

    def __post_init__(self) -> None:
        if not self.weekday:
            raise OfficeHoursError("office hours: a unit must be open on weekdays")

    @classmethod
    def default(cls) -> OfficeHours:
        return DEFAULT_HOURS

    @classmethod
    def from_spans(cls, weekday: Iterable[str], saturday: Iterable[str] = ()) -> OfficeHours:
        return cls(parse_spans(weekday, "weekday hours"), parse_spans(saturday, "saturday hours"))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: OfficeHours | None = None) -> OfficeHours:
        """``{weekday: [...], saturday: [...]}``; a missing key keeps ``base``'s value."""
        base = base or DEFAULT_HOURS
        unknown = set(data) - {"weekday", "saturday"}
        if unknown:
            raise OfficeHoursError(f"office hours: unknown key(s) {sorted(unknown)}: use weekday, saturday")
        weekday = parse_spans(data["weekday"], "weekday hours") if "weekday" in data else base.weekday
        saturday = (
            parse_spans(data["saturday"] or [], "saturday hours") if "saturday" in data else base.saturday
        )
        return cls(weekday, saturday)

    @property
    def weekday_us(self) -> int:
        return sum(e - s for s, e in self.weekday)

    def describe(self) -> str:
        sat = f"; Saturday {format_spans(self.saturday)}" if self.saturday else ""
        return f"Mon–Fri {format_spans(self.weekday)}{sat}"


DEFAULT_HOURS = OfficeHours(parse_spans(["07:30-11:30", "13:00-17:00"]))
SATURDAY_MORNING = parse_spans(["07:30-11:30"])
