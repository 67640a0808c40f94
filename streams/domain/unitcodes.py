"""Unit codes replaced by the 2025 mergers: which code holds a retired one, from which day.

Departments merged on 1 March 2025, wards and communes on 1 July 2025 (Resolution
1659/NQ-UBTVQH15); a system that was not updated keeps sending the old code. The codes and their
validity dates are data (``data/danang_units.yaml``, shared with the simulator), never code: this
module only reads them and answers "which unit holds this code on that day".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

PACKAGED = "danang_units.yaml"


class UnitCodesError(ValueError):
    """The unit file is inconsistent (a code replaced twice, a cycle); the message says where."""


@dataclass(frozen=True)
class UnitCodes:
    # retired code → (the code that replaced it, the first day the retired code is no longer valid)
    successors: Mapping[str, tuple[str, date]] = field(default_factory=dict)

    def current(self, code: str | None, on: date) -> str | None:
        """The code that holds ``code`` on ``on``: the code itself while it is valid, its successor
        (followed through every merger since) once it is retired."""
        seen = set()
        while code is not None and code in self.successors:
            successor, retired_from = self.successors[code]
            if on < retired_from:
                break
            if code in seen:
                raise UnitCodesError(f"unit codes: a cycle through {code}")
            seen.add(code)
            code = successor
        return code


def parse_unit_codes(doc: Mapping[str, Any], source: str = PACKAGED) -> UnitCodes:
    """The successors of every retired code listed as a ``predecessor`` of a unit."""
    merger: date = doc["merger"]["date"]
    out: dict[str, tuple[str, date]] = {}
    # The last day a predecessor is valid, unless its unit says (departments merged earlier do).
    day_before = merger - timedelta(days=1)
    groups = (("departments", merger), ("land_branches", day_before), ("communal", day_before))
    for key, default_last in groups:
        for spec in doc.get(key) or ():
            last_day = spec.get("predecessors_valid_to", default_last)
            for p in spec.get("predecessors") or ():
                old = str(p["code"])
                if old in out:
                    raise UnitCodesError(f"{source}: unit code {old} is replaced twice")
                out[old] = (str(spec["code"]), last_day + timedelta(days=1))
    return UnitCodes(out)


@cache
def load_unit_codes(path: Path | None = None) -> UnitCodes:
    if path is None:
        text = resources.files("streams.domain").joinpath("data", PACKAGED).read_text(encoding="utf-8")
        return parse_unit_codes(yaml.safe_load(text))
    return parse_unit_codes(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


def data_path() -> Path:
    """Where the packaged unit file lives (the simulator reads the same file)."""
    return Path(str(resources.files("streams.domain").joinpath("data", PACKAGED)))
