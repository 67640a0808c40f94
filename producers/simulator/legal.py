"""The legal rules the simulation is judged by: ``streams.domain``, never a calendar of our own.

One ``Legal`` per run holds the catalogue, the per-unit calendars, the deadline policy, and the
faulty calendar variants of source systems (built once: each calendar caches its years).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from contract.settings import DomainSettings
from streams.domain.calendar import BusinessCalendar
from streams.domain.catalogue import Catalogue, ProcedureVersion
from streams.domain.deadlines import PauseSpan, compute_due
from streams.domain.policy import DeadlinePolicy
from streams.domain.units import CalendarBook
from streams.model import Channel


@dataclass
class Legal:
    catalogue: Catalogue
    calendars: CalendarBook
    policy: DeadlinePolicy
    _variants: dict[tuple[int, frozenset[date], frozenset[date]], BusinessCalendar] = field(
        default_factory=dict
    )

    @classmethod
    def from_settings(cls, settings: DomainSettings | None = None) -> Legal:
        """The rules the pipeline applies (``DONGBO_DOMAIN_*``), so the truth matches its judgement."""
        from streams.configured import calendar_book, catalogue, deadline_policy

        s = settings or DomainSettings()
        return cls(catalogue(s), calendar_book(s), deadline_policy(s))

    def calendar(self, unit_code: str) -> BusinessCalendar:
        return self.calendars.for_unit(unit_code)

    def variant(
        self, base: BusinessCalendar, drop_holidays: frozenset[date], drop_makeup: frozenset[date]
    ) -> BusinessCalendar:
        """A source system's wrong calendar: it lacks these holidays and make-up Saturdays."""
        if not drop_holidays and not drop_makeup:
            return base
        key = (id(base), drop_holidays, drop_makeup)
        cal = self._variants.get(key)
        if cal is None:
            cal = self._variants[key] = base.variant(
                drop_holidays=drop_holidays, drop_makeup_days=drop_makeup, name=f"{base.name} (faulty)"
            )
        return cal

    def due(
        self,
        received_at: datetime,
        version: ProcedureVersion,
        calendar: BusinessCalendar,
        pauses: Sequence[PauseSpan],
        channel: Channel,
        complex_case: bool,
    ) -> datetime | None:
        """The due time by ``calendar`` (None while an open pause stops the clock)."""
        return compute_due(
            received_at,
            version,
            calendar,
            pauses,
            channel=channel,
            policy=self.policy,
            complex_case=complex_case,
            explain=False,
        ).due_at
