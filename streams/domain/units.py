"""Per-unit office hours (``data/office_hours.yaml``) and one shared calendar per distinct setting.

Format::

    default: {weekday: ["07:30-11:30", "13:00-17:00"], saturday: []}
    units:
      "<unit code>": {saturday: ["07:30-11:30"]}   # keys not given keep the default's value

:class:`CalendarBook` hands out calendars by unit code; units with the same hours share one
``BusinessCalendar`` (and so its per-year caches).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from streams.domain.calendar import BusinessCalendar
from streams.domain.officehours import DEFAULT_HOURS, OfficeHours, OfficeHoursError
from streams.domain.overrides import CalendarOverrides


@dataclass(frozen=True)
class UnitHoursTable:
    default: OfficeHours = DEFAULT_HOURS
    units: Mapping[str, OfficeHours] = field(default_factory=dict)

    def hours_for(self, unit_code: str | None) -> OfficeHours:
        return self.units.get(unit_code or "", self.default)


def parse_office_hours(doc: Any, source: str = "office_hours") -> UnitHoursTable:
    if doc is None:
        return UnitHoursTable()
    if not isinstance(doc, Mapping) or set(doc) - {"default", "units"}:
        raise OfficeHoursError(f"{source}: expected the keys 'default' and 'units'")
    try:
        default = OfficeHours.from_mapping(doc.get("default") or {})
    except OfficeHoursError as exc:
        raise OfficeHoursError(f"{source}: default: {exc}") from None
    units: dict[str, OfficeHours] = {}
    for code, spec in (doc.get("units") or {}).items():
        try:
            units[str(code)] = OfficeHours.from_mapping(spec or {}, base=default)
        except OfficeHoursError as exc:
            raise OfficeHoursError(f"{source}: units.{code}: {exc}") from None
    return UnitHoursTable(default, units)


def load_office_hours(path: Path | None = None) -> UnitHoursTable:
    if path is None:
        return packaged_office_hours()
    return parse_office_hours(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


@lru_cache(maxsize=1)
def packaged_office_hours() -> UnitHoursTable:
    text = resources.files("streams.domain").joinpath("data/office_hours.yaml").read_text("utf-8")
    return parse_office_hours(yaml.safe_load(text), "office_hours.yaml")


class CalendarBook:
    """Calendars by unit code, built once per distinct office-hours setting."""

    def __init__(
        self,
        table: UnitHoursTable | None = None,
        overrides: CalendarOverrides | None = None,
        *,
        culture_day: bool = False,
    ) -> None:
        self.table = table or packaged_office_hours()
        self.overrides = overrides
        self.culture_day = culture_day
        self._by_hours: dict[OfficeHours, BusinessCalendar] = {}

    def for_unit(self, unit_code: str | None = None) -> BusinessCalendar:
        hours = self.table.hours_for(unit_code)
        cal = self._by_hours.get(hours)
        if cal is None:
            name = "legal" if hours == self.table.default else f"legal, {hours.describe()}"
            cal = BusinessCalendar(hours, self.overrides, culture_day=self.culture_day, name=name)
            self._by_hours[hours] = cal
        return cal


@lru_cache(maxsize=2)
def default_book(culture_day: bool = False) -> CalendarBook:
    """The packaged office hours and override table (what tests and the simulator use)."""
    return CalendarBook(culture_day=culture_day)


def calendar_for(unit_code: str | None = None, *, culture_day: bool = False) -> BusinessCalendar:
    """The legal calendar of a unit, from the packaged data, shared process-wide."""
    return default_book(culture_day).for_unit(unit_code)
