"""The city as data: Da Nang's units with their codes, validity dates and the 2025 remap table.

Unit codes changed with the 2025 mergers (departments on 1 March, wards and communes on 1 July),
and a source system that was not updated keeps sending the old code. The codes therefore live in
``streams/domain/data/danang_units.yaml`` (the merge reads the same file) with their validity dates,
never in code; this module only loads them and answers "which unit is valid on that day" and
"which new code does this old code stand for".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from streams.domain.unitcodes import data_path, parse_unit_codes

DATA = data_path()  # the domain's unit register: the merge reads the same codes and dates

# The roles a procedure can ask for (see ``workload.PROCEDURE_MIX``): which units receive it.
COMMUNAL = "communal"
LAND = "land"
ROLES = (COMMUNAL, LAND, "justice", "business", "construction")


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    kind: str  # ward | commune | special_zone | department | land_branch | retired
    weight: float  # relative dossier volume
    valid_from: date
    valid_to: date | None = None
    role: str | None = None
    predecessors: tuple[str, ...] = ()  # codes this unit replaced (merged into it)

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class City:
    province: str
    merger_date: date
    units: Mapping[str, Unit]  # every unit, current and retired, by code
    remap: Mapping[str, str]  # old code → the code that replaced it

    def by_role(self, role: str, day: date) -> tuple[Unit, ...]:
        """Units that receive dossiers of ``role`` on ``day``, in file order."""
        return tuple(u for u in self.units.values() if u.role == role and u.valid_on(day) and u.weight > 0)

    def current_code(self, code: str) -> str:
        """An old code followed through the remap table to the unit that holds it today."""
        seen = {code}
        while code in self.remap:
            code = self.remap[code]
            if code in seen:  # a cycle in the data is a data error, said loudly
                raise ValueError(f"unit remap cycle through {code}")
            seen.add(code)
        return code

    def predecessors(self, code: str) -> tuple[str, ...]:
        return self.units[code].predecessors


def _unit(spec: Mapping[str, Any], kind: str, role: str | None, valid_from: date) -> Unit:
    return Unit(
        code=str(spec["code"]),
        name=str(spec["name"]),
        kind=str(spec.get("kind", kind)),
        weight=float(spec.get("weight", 0)),
        valid_from=spec.get("valid_from", valid_from),
        valid_to=spec.get("valid_to"),
        role=spec.get("role", role),
        predecessors=tuple(str(p["code"]) for p in spec.get("predecessors", ())),
    )


def parse_city(doc: Mapping[str, Any]) -> City:
    merger: date = doc["merger"]["date"]
    units: dict[str, Unit] = {}
    # Old code → new: the domain's reading of the file (``streams.domain.unitcodes``), one rule.
    remap = {old: new for old, (new, _day) in parse_unit_codes(doc, DATA.name).successors.items()}

    def add(unit: Unit, spec: Mapping[str, Any], predecessors_valid_to: date) -> None:
        for u in (unit, *(_retired(p, predecessors_valid_to) for p in spec.get("predecessors", ()))):
            if u.code in units:
                raise ValueError(f"{DATA.name}: unit code {u.code} is listed twice")
            units[u.code] = u

    for spec in doc.get("departments", ()):
        add(
            _unit(spec, "department", None, date(2008, 1, 1)), spec, spec.get("predecessors_valid_to", merger)
        )
    for spec in doc.get("land_branches", ()):
        add(_unit(spec, "land_branch", LAND, merger), spec, merger - timedelta(days=1))
    for spec in doc["communal"]:
        add(_unit(spec, "ward", COMMUNAL, merger), spec, merger - timedelta(days=1))
    return City(province=str(doc["province"]), merger_date=merger, units=units, remap=remap)


def _retired(spec: Mapping[str, Any], valid_to: date) -> Unit:
    return Unit(
        code=str(spec["code"]),
        name=str(spec["name"]),
        kind="retired",
        weight=0.0,
        valid_from=date(2008, 1, 1),
        valid_to=valid_to,
    )


@cache
def load_city(path: Path = DATA) -> City:
    return parse_city(yaml.safe_load(path.read_text(encoding="utf-8")))
