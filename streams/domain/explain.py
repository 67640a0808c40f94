"""Human-readable pieces of a deadline explanation (what officials read when they check a date)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from streams.domain.calendar import BusinessCalendar, DayInfo, DayKind, day_name

_GROUPS = ("Tết Nguyên Đán", "Quốc khánh", "Giỗ Tổ Hùng Vương")


def fmt_dt(dt: datetime) -> str:
    """``Mon 09/03/2026 09:00 +07:00``: the time a person reads, always in the units' local time
    with its offset (stored times are often UTC); seconds only when there are some."""
    local = BusinessCalendar.local(dt)
    clock = f"{local:%H:%M:%S}" if local.second or local.microsecond else f"{local:%H:%M}"
    return f"{day_name(local.date())} {clock} {_offset(local)}"


def fmt_span(start: datetime, end: datetime | None) -> str:
    """``03/03 10:00–06/03 14:00 +07:00`` (local time, one offset for both ends)."""
    a = BusinessCalendar.local(start)
    if end is None:
        return f"{a:%d/%m %H:%M} {_offset(a)}–"
    b = BusinessCalendar.local(end)
    return f"{a:%d/%m %H:%M}–{b:%d/%m %H:%M} {_offset(b)}"


def _offset(local: datetime) -> str:
    z = f"{local:%z}"  # +0700 (``%:z`` needs Python 3.12)
    return f"{z[:3]}:{z[3:]}"


def fmt_working(td: timedelta, working_day: timedelta = timedelta(hours=8)) -> str:
    """``2 working days 1 h`` (a working day being ``working_day`` of working time)."""
    sign = "-" if td < timedelta(0) else ""
    td = abs(td)
    days, rest = divmod(td, working_day)
    minutes = round(rest.total_seconds() / 60)
    hours, minutes = divmod(minutes, 60)
    parts = []
    if days:
        parts.append(f"{days} working day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    return sign + (" ".join(parts) or "0 h")


def _group(label: str) -> str:
    return next((g for g in _GROUPS if g in label), label)


def _span(first: date, last: date) -> str:
    if first == last:
        return day_name(first)
    return f"{day_name(first)[:3]} {first:%d/%m}–{day_name(last)[:3]} {last:%d/%m/%Y}"


def skipped_days(calendar: BusinessCalendar, start: date, end: date) -> list[str]:
    """What the count passed over between two dates: holidays and swapped days off (grouped),
    make-up working days, and how many plain weekend days."""
    lines: list[str] = []
    weekend = 0
    run: list[DayInfo] = []

    def flush() -> None:
        if run:
            label = _group(run[0].label or "")
            lines.append(f"not working: {label} {_span(run[0].day, run[-1].day)}")
            run.clear()

    for info in calendar.days(start, end) if start <= end else []:
        if info.kind is DayKind.WEEKEND:
            weekend += 1
            continue
        if info.kind in (DayKind.HOLIDAY, DayKind.SWAPPED_OFF):
            if run and (_group(run[-1].label or "") != _group(info.label or "")):
                flush()
            run.append(info)
            continue
        flush()
        if info.kind is DayKind.MAKEUP:
            lines.append(f"{day_name(info.day)} is a make-up working day ({info.label})")
    flush()
    if weekend:
        lines.append(f"{weekend} weekend day{'s' if weekend != 1 else ''} skipped")
    return lines
