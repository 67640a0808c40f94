"""The pure domain rules: business calendar, procedure catalogue, deadline arithmetic.

No I/O here besides reading the package's own data files (``data/``); settings from the
environment are read only by ``contract.settings`` and turned into these rules' arguments by
``streams.configured``, at the edges.
"""

from streams.domain.calendar import BusinessCalendar, CalendarError, DayInfo, DayKind
from streams.domain.catalogue import (
    Catalogue,
    NoVersionAt,
    Procedure,
    ProcedureVersion,
    Step,
    UnknownProcedure,
)
from streams.domain.catalogue_io import CatalogueError, cached_catalogue, load_catalogue
from streams.domain.deadlines import (
    DueComputation,
    PauseSpan,
    compute_due,
    effective_receipt,
    judge_outcome,
    judged_due,
    near_deadline,
    near_deadline_from,
    overdue_now,
    pausing_statuses,
    received_late,
    received_late_from,
    step_due_times,
    tracking_due,
)
from streams.domain.limits import Limit, LimitUnit
from streams.domain.officehours import OfficeHours
from streams.domain.policy import DEFAULT_POLICY, DeadlinePolicy, ExtensionJudgement, ReceiptRule
from streams.domain.units import CalendarBook, calendar_for

__all__ = [
    "DEFAULT_POLICY",
    "BusinessCalendar",
    "CalendarBook",
    "CalendarError",
    "Catalogue",
    "CatalogueError",
    "DayInfo",
    "DayKind",
    "DeadlinePolicy",
    "DueComputation",
    "ExtensionJudgement",
    "Limit",
    "LimitUnit",
    "NoVersionAt",
    "OfficeHours",
    "PauseSpan",
    "Procedure",
    "ProcedureVersion",
    "ReceiptRule",
    "Step",
    "UnknownProcedure",
    "cached_catalogue",
    "calendar_for",
    "compute_due",
    "effective_receipt",
    "judge_outcome",
    "judged_due",
    "load_catalogue",
    "near_deadline",
    "near_deadline_from",
    "overdue_now",
    "pausing_statuses",
    "received_late",
    "received_late_from",
    "step_due_times",
    "tracking_due",
]
