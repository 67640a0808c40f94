"""Each source's own timestamp format, parsed to timezone-aware datetimes.

A timestamp that does not parse is ``bad_timestamp`` with the field's name: these are exactly the
clock and timezone faults that make systems disagree, so they are surfaced, never guessed at.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from streams.model import VN_TZ
from streams.normalise.errors import NormaliseError

# Before this no dossier of any system existed; earlier values are unset clocks (epoch 0, 0001-01-01).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_PORTAL = re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})")
_VN_DMY = re.compile(r"(\d{2})/(\d{2})/(\d{4}) (\d{2}):(\d{2}):(\d{2})")


def _bad(field: str, value: object, why: str) -> NormaliseError:
    return NormaliseError("bad_timestamp", f"{field}={value!r}: {why}")


def _plausible(dt: datetime, field: str, value: object) -> datetime:
    if dt < EARLIEST:
        raise _bad(field, value, f"before {EARLIEST.date()}, an unset clock")
    return dt


def portal_time(text: str, field: str) -> datetime:
    """The national portal's ``yyyyMMddHHmmss``, local time in Asia/Ho_Chi_Minh (+07:00)."""
    m = _PORTAL.fullmatch(text.strip())
    if m is None:
        raise _bad(field, text, "expected yyyyMMddHHmmss")
    year, month, day, hour, minute, second = (int(g) for g in m.groups())
    try:
        dt = datetime(year, month, day, hour, minute, second, tzinfo=VN_TZ)
    except ValueError as exc:
        raise _bad(field, text, str(exc)) from exc
    return _plausible(dt, field, text)


def vn_dmy_time(text: str, field: str) -> datetime:
    """``dd/MM/yyyy HH:mm:ss`` in +07:00, as Vietnamese ministry systems print dates."""
    m = _VN_DMY.fullmatch(text.strip())
    if m is None:
        raise _bad(field, text, "expected dd/MM/yyyy HH:mm:ss")
    day, month, year, hour, minute, second = (int(g) for g in m.groups())
    try:
        dt = datetime(year, month, day, hour, minute, second, tzinfo=VN_TZ)
    except ValueError as exc:
        raise _bad(field, text, str(exc)) from exc
    return _plausible(dt, field, text)


def iso_time(text: str, field: str) -> datetime:
    """ISO-8601 that must carry its UTC offset (or Z): a naive time is a timezone bug upstream."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise _bad(field, text, "not ISO-8601") from exc
    if dt.tzinfo is None:
        raise _bad(field, text, "no UTC offset")
    return _plausible(dt, field, text)


def epoch_millis(value: int, field: str) -> datetime:
    """Milliseconds since 1970-01-01T00:00Z."""
    try:
        dt = _EPOCH + timedelta(milliseconds=value)
    except OverflowError as exc:
        raise _bad(field, value, "out of range") from exc
    return _plausible(dt, field, value)


def vn_iso(dt: datetime) -> str:
    """How times are written into event attributes: ISO-8601 in +07:00, as officials read them."""
    return dt.astimezone(VN_TZ).isoformat()
