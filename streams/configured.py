"""The rules as configured: settings (``contract.settings``) turned into the policy objects that the
pure rules are handed. The rules themselves read no environment; the edges (the worker, the CLI,
the simulator) call these functions once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from contract.settings import DomainSettings, Settings
from streams.conflicts import ConflictPolicy
from streams.domain.catalogue import Catalogue
from streams.domain.catalogue_io import cached_catalogue, packaged_catalogue_path
from streams.domain.overrides import load_overrides
from streams.domain.policy import DeadlinePolicy, ExtensionJudgement, ReceiptRule
from streams.domain.unitcodes import load_unit_codes
from streams.domain.units import CalendarBook, load_office_hours
from streams.legal import LegalRules
from streams.merge_policy import DEFAULT_POLICY, MergePolicy

E = TypeVar("E", bound=StrEnum)


def _choice(kind: type[E], value: str, variable: str) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise ValueError(f"{variable}={value!r} is not one of: {allowed}") from None


def deadline_policy(ds: DomainSettings) -> DeadlinePolicy:
    return DeadlinePolicy(
        same_day_cutoff=ds.same_day_cutoff,
        online_receipt=_choice(ReceiptRule, ds.online_receipt, "DONGBO_DOMAIN_ONLINE_RECEIPT"),
        counter_outside_hours=_choice(
            ReceiptRule, ds.counter_outside_hours, "DONGBO_DOMAIN_COUNTER_OUTSIDE_HOURS"
        ),
        working_day=timedelta(hours=ds.working_day_hours),
        receipt_allowance=timedelta(hours=ds.receipt_allowance_hours),
        culture_day_off=ds.culture_day_off,
        early_margin=timedelta(hours=ds.early_margin_hours),
        near_deadline=timedelta(hours=ds.near_deadline_hours),
        extension_judged_against=_choice(
            ExtensionJudgement, ds.extension_judged_against, "DONGBO_DOMAIN_EXTENSION_JUDGED_AGAINST"
        ),
        calendar_units_end_at_close=ds.calendar_units_end_at_close,
    )


def calendar_book(ds: DomainSettings) -> CalendarBook:
    return CalendarBook(
        load_office_hours(ds.office_hours_path),
        load_overrides(ds.overrides_path),
        culture_day=ds.culture_day_off,
    )


def catalogue_path(ds: DomainSettings) -> Path:
    """Where the catalogue in use lives (``dongbo catalogue load`` installs there)."""
    return ds.catalogue_path or packaged_catalogue_path()


def catalogue(ds: DomainSettings) -> Catalogue:
    return cached_catalogue(catalogue_path(ds))


def legal_rules(ds: DomainSettings) -> LegalRules:
    return LegalRules(catalogue(ds), calendar_book(ds), deadline_policy(ds))


def worker_policy(settings: Settings) -> MergePolicy:
    """The merge policy a worker runs with: tolerances from its settings, the legal rules loaded."""
    ws = settings.worker
    return replace(
        DEFAULT_POLICY,
        conflicts=ConflictPolicy(
            default_tolerance=timedelta(seconds=ws.ministry_tolerance),
            tolerances={frozenset({"onestop", "portal"}): timedelta(seconds=ws.sync_tolerance)},
            presence_tolerance=timedelta(seconds=ws.presence_tolerance),
        ),
        rules=legal_rules(settings.domain),
        alert_grace=timedelta(seconds=ws.alert_grace),
        unit_codes=load_unit_codes(settings.domain.units_path),
    )
