"""Settings of the domain rules, from ``DONGBO_DOMAIN_*`` environment variables.

This is the edge where the environment is read; the rules themselves take a ``DeadlinePolicy``,
a ``BusinessCalendar`` and a ``Catalogue`` as arguments.
"""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.domain.catalogue import Catalogue
from streams.domain.catalogue_io import cached_catalogue, packaged_catalogue_path
from streams.domain.overrides import load_overrides
from streams.domain.policy import DeadlinePolicy, ExtensionJudgement, ReceiptRule
from streams.domain.units import CalendarBook, load_office_hours


class DomainSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DONGBO_DOMAIN_", extra="ignore")

    catalogue_path: Path = Field(
        default_factory=packaged_catalogue_path,
        description="the procedure catalogue in use (`dongbo catalogue load` installs here)",
    )
    overrides_path: Path | None = Field(None, description="yearly swap table; empty = the packaged one")
    office_hours_path: Path | None = Field(None, description="per-unit office hours; empty = packaged")
    same_day_cutoff: time = Field(time(15, 0), description="same-day rule cut-off (HH:MM)")
    online_receipt: ReceiptRule = Field(ReceiptRule.NEXT_WORKING_DAY, description="clock start, online")
    counter_outside_hours: ReceiptRule = Field(
        ReceiptRule.NEXT_OPENING, description="clock start, counter receipt outside office hours"
    )
    working_day_hours: float = Field(8.0, gt=0, description="working time of one working day (hours)")
    receipt_allowance_hours: float = Field(8.0, ge=0, description="online receipt later than this is late")
    culture_day_off: bool = Field(False, description="24 Nov (Ngày Văn hóa Việt Nam) is a day off")
    early_margin_hours: float = Field(8.0, ge=0, description="ended this much before due = early")
    near_deadline_hours: float = Field(8.0, ge=0, description="near-deadline alert threshold")
    extension_judged_against: ExtensionJudgement = Field(
        ExtensionJudgement.ORIGINAL, description="an extended dossier is judged against this date"
    )
    calendar_units_end_at_close: bool = Field(
        False, description="DAYS/MONTHS limits end at the close of office of the last day"
    )

    def policy(self) -> DeadlinePolicy:
        return DeadlinePolicy(
            same_day_cutoff=self.same_day_cutoff,
            online_receipt=self.online_receipt,
            counter_outside_hours=self.counter_outside_hours,
            working_day=timedelta(hours=self.working_day_hours),
            receipt_allowance=timedelta(hours=self.receipt_allowance_hours),
            culture_day_off=self.culture_day_off,
            early_margin=timedelta(hours=self.early_margin_hours),
            near_deadline=timedelta(hours=self.near_deadline_hours),
            extension_judged_against=self.extension_judged_against,
            calendar_units_end_at_close=self.calendar_units_end_at_close,
        )

    def calendars(self) -> CalendarBook:
        return CalendarBook(
            load_office_hours(self.office_hours_path),
            load_overrides(self.overrides_path),
            culture_day=self.culture_day_off,
        )

    def catalogue(self) -> Catalogue:
        return cached_catalogue(self.catalogue_path)
