"""Time limits of a procedure (docs/domain-rules.md §1): a value and a unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from enum import StrEnum


class LimitUnit(StrEnum):
    SAME_DAY = "same_day"  # done the day of receipt; after the cut-off, the next working day
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"  # n × 8 h of working time (policy: hours per working day)
    DAYS = "days"  # calendar days (Civil Code Art. 148 when landing on a day off)
    MONTHS = "months"  # calendar months

    @property
    def counts_working_time(self) -> bool:
        return self in (LimitUnit.WORKING_HOURS, LimitUnit.WORKING_DAYS, LimitUnit.SAME_DAY)

    @property
    def whole_values_only(self) -> bool:
        return self in (LimitUnit.DAYS, LimitUnit.MONTHS)


_UNIT_WORDS = {
    LimitUnit.WORKING_HOURS: "working hour",
    LimitUnit.WORKING_DAYS: "working day",
    LimitUnit.DAYS: "day",
    LimitUnit.MONTHS: "month",
}


@dataclass(frozen=True)
class Limit:
    """``value`` in ``unit``; ``cutoff`` is the same-day rule's hour (None: the policy's default)."""

    value: float
    unit: LimitUnit
    cutoff: time | None = None

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError(f"a time limit cannot be negative ({self.value})")
        if self.unit.whole_values_only and self.value != int(self.value):
            raise ValueError(f"{self.unit.value} limits are whole numbers (got {self.value})")

    def describe(self) -> str:
        if self.unit is LimitUnit.SAME_DAY:
            cut = f", cut-off {self.cutoff:%H:%M}" if self.cutoff else ""
            return f"same day{cut}"
        word = _UNIT_WORDS[self.unit]
        return f"{self.value:g} {word}{'' if self.value == 1 else 's'}"
