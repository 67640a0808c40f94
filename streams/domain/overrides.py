"""The yearly override table: swapped days off and make-up working Saturdays (docs/domain-rules.md §2).

Format (``data/calendar_overrides.yaml``)::

    2026:
      days_off:
        - {date: 2026-01-02, name: "...", swapped_with: 2026-01-10, basis: "...", certain: true}
      working_saturdays:
        - {date: 2026-01-10, name: "...", swapped_with: 2026-01-02}

Each year maps to two optional lists. ``date`` and ``name`` are required; ``swapped_with``,
``basis`` and ``certain`` are informative (shown by ``dongbo calendar show``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


class OverridesError(ValueError):
    """The override table cannot be used; the message says where and why."""


@dataclass(frozen=True)
class OverrideDay:
    day: date
    name: str
    swapped_with: date | None = None
    basis: str | None = None
    certain: bool = True


@dataclass(frozen=True)
class CalendarOverrides:
    days_off: Mapping[date, OverrideDay] = field(default_factory=dict)
    working_days: Mapping[date, OverrideDay] = field(default_factory=dict)

    def without(self, dates: frozenset[date] | None = None) -> CalendarOverrides:
        """The table without the entries on ``dates`` (all of them when ``dates`` is None)."""
        if dates is None:
            return EMPTY_OVERRIDES
        return CalendarOverrides(
            {d: o for d, o in self.days_off.items() if d not in dates},
            {d: o for d, o in self.working_days.items() if d not in dates},
        )


EMPTY_OVERRIDES = CalendarOverrides()


def _as_date(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise OverridesError(f"{where}: {value!r} is not a date (expected YYYY-MM-DD)") from None


def _entry(raw: Any, year: int, where: str) -> OverrideDay:
    if not isinstance(raw, Mapping):
        raise OverridesError(f"{where}: expected a mapping with date and name, got {raw!r}")
    unknown = set(raw) - {"date", "name", "swapped_with", "basis", "certain"}
    if unknown:
        raise OverridesError(f"{where}: unknown key(s) {sorted(unknown)}")
    if "date" not in raw or not raw.get("name"):
        raise OverridesError(f"{where}: 'date' and 'name' are required")
    day = _as_date(raw["date"], f"{where}.date")
    if day.year != year:
        raise OverridesError(f"{where}.date: {day} is not in year {year}")
    swapped = raw.get("swapped_with")
    return OverrideDay(
        day=day,
        name=str(raw["name"]),
        swapped_with=_as_date(swapped, f"{where}.swapped_with") if swapped is not None else None,
        basis=str(raw["basis"]) if raw.get("basis") is not None else None,
        certain=bool(raw.get("certain", True)),
    )


def parse_overrides(doc: Any, source: str = "overrides") -> CalendarOverrides:
    """Validate a loaded YAML document (see the module docstring for its shape)."""
    if doc is None:
        return EMPTY_OVERRIDES
    if not isinstance(doc, Mapping):
        raise OverridesError(f"{source}: expected a mapping of year → lists")
    days_off: dict[date, OverrideDay] = {}
    working: dict[date, OverrideDay] = {}
    for year_key, body in doc.items():
        try:
            year = int(year_key)
        except (TypeError, ValueError):
            raise OverridesError(f"{source}: {year_key!r} is not a year") from None
        body = body or {}
        if not isinstance(body, Mapping) or set(body) - {"days_off", "working_saturdays"}:
            raise OverridesError(f"{source}: {year}: expected keys days_off and working_saturdays")
        for i, raw in enumerate(body.get("days_off") or []):
            o = _entry(raw, year, f"{source}: {year}.days_off[{i}]")
            if o.day.weekday() >= 5:
                raise OverridesError(f"{source}: {year}.days_off[{i}]: {o.day} is a weekend day already")
            days_off[o.day] = o
        for i, raw in enumerate(body.get("working_saturdays") or []):
            o = _entry(raw, year, f"{source}: {year}.working_saturdays[{i}]")
            if o.day.weekday() < 5:
                raise OverridesError(f"{source}: {year}.working_saturdays[{i}]: {o.day} is not a weekend day")
            working[o.day] = o
    both = set(days_off) & set(working)
    if both:
        raise OverridesError(f"{source}: {sorted(both)} both a day off and a working day")
    return CalendarOverrides(days_off, working)


def load_overrides(path: Path | None = None) -> CalendarOverrides:
    """The table at ``path``, or the packaged one."""
    if path is None:
        return packaged_overrides()
    return parse_overrides(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


@lru_cache(maxsize=1)
def packaged_overrides() -> CalendarOverrides:
    text = resources.files("streams.domain").joinpath("data/calendar_overrides.yaml").read_text("utf-8")
    return parse_overrides(yaml.safe_load(text), "calendar_overrides.yaml")
