"""The procedure catalogue (docs/domain-rules.md §1): procedures, their versions and time limits, as data.

A procedure (``MaTTHC``) has versions with validity dates (``valid_to`` inclusive; None = still
valid); each version has a limit (value + unit, an optional same-day cut-off), the statuses that
stop its clock, an optional *complex case* limit (e.g. "15 working days if verification is
needed"), and optional inter-agency steps (agency + share of the limit). Loading and validation:
``streams.domain.catalogue_io`` (YAML and CSV; format in ``docs/catalogue.md``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from streams.domain.limits import Limit
from streams.model import VN_TZ, Status


class UnknownProcedure(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class NoVersionAt(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Step:
    """One agency's part of an inter-agency (liên thông) procedure."""

    agency: str
    share: float  # of the limit; a version's shares add up to 1


@dataclass(frozen=True)
class ProcedureVersion:
    code: str
    name: str  # Vietnamese, as officials read it
    name_en: str
    valid_from: date
    valid_to: date | None  # inclusive; None = open-ended
    limit: Limit
    pause_on: frozenset[Status] | None = None  # None: the policy's default (supplement requested)
    complex_limit: Limit | None = None
    complex_when: str | None = None
    steps: tuple[Step, ...] = ()
    basis: str | None = None  # legal basis, for people checking the figure
    sector: str | None = None  # lĩnh vực
    level: str | None = None  # commune / district / province / ministry

    def valid_on(self, d: date) -> bool:
        return self.valid_from <= d and (self.valid_to is None or d <= self.valid_to)

    def limit_for(self, *, complex_case: bool = False) -> Limit:
        return self.complex_limit if complex_case and self.complex_limit else self.limit

    def describe(self) -> str:
        until = f"{self.valid_to:%d/%m/%Y}" if self.valid_to else "…"
        text = f"{self.valid_from:%d/%m/%Y}–{until}: {self.limit.describe()}"
        if self.complex_limit:
            text += f" ({self.complex_limit.describe()} if {self.complex_when or 'complex'})"
        return text


@dataclass(frozen=True)
class Procedure:
    code: str
    name: str
    name_en: str
    versions: tuple[ProcedureVersion, ...]  # sorted by valid_from, not overlapping

    def version_on(self, d: date) -> ProcedureVersion | None:
        i = bisect_right([v.valid_from for v in self.versions], d) - 1
        if i >= 0 and self.versions[i].valid_on(d):
            return self.versions[i]
        return None


class Catalogue:
    """Procedures by code. Build it with ``catalogue_io``; it is immutable after that."""

    def __init__(self, procedures: Mapping[str, Procedure], source: str = "") -> None:
        self._procedures = dict(procedures)
        self.source = source

    def __len__(self) -> int:
        return len(self._procedures)

    def __iter__(self) -> Iterator[Procedure]:
        return iter(self._procedures.values())

    def __contains__(self, code: object) -> bool:
        return code in self._procedures

    def get(self, code: str) -> Procedure:
        try:
            return self._procedures[code]
        except KeyError:
            raise UnknownProcedure(f"procedure {code!r} is not in the catalogue ({self.source})") from None

    def lookup(self, code: str, at: datetime | date) -> ProcedureVersion:
        """The version of ``code`` valid at the receipt time ``at`` (its date in Vietnam)."""
        if isinstance(at, datetime):
            if at.tzinfo is None:
                raise ValueError(f"naive datetime {at.isoformat()}: give a UTC offset")
            day = at.astimezone(VN_TZ).date()
        else:
            day = at
        proc = self.get(code)
        version = proc.version_on(day)
        if version is None:
            spans = "; ".join(v.describe() for v in proc.versions)
            raise NoVersionAt(f"procedure {code!r} has no version valid on {day:%d/%m/%Y} ({spans})")
        return version
