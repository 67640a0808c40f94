"""Every **(policy)** choice of the domain rules (docs/domain-rules.md §E), with its default, in one place.

The law is unclear or varies by locality on these: they are settings (see
``contract.settings.DomainSettings`` for their environment variables), never constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta
from enum import StrEnum

from streams.model import Status


class ReceiptRule(StrEnum):
    """When the clock starts for a dossier received at a given instant (docs/domain-rules.md §3)."""

    AS_RECEIVED = "as_received"  # the received timestamp, whatever it is
    NEXT_OPENING = "next_opening"  # the timestamp if the office is open, else its next opening
    NEXT_WORKING_DAY = "next_working_day"  # the opening of the next working day (today's, before it)


class ExtensionJudgement(StrEnum):
    """Which date an extended dossier is judged against (docs/domain-rules.md §6)."""

    ORIGINAL = "original"
    EXTENDED = "extended"


@dataclass(frozen=True)
class DeadlinePolicy:
    # Rule 4, SAME_DAY: received at or before this time on a working day → due that day.
    same_day_cutoff: time = time(15, 0)
    # Rule 3: online dossiers count from the next working day's opening.
    online_receipt: ReceiptRule = ReceiptRule.NEXT_WORKING_DAY
    # Rule 3: counter receipt outside office hours counts from the next opening (a lunch-break
    # receipt from 13:00 the same day; an evening one from the next working day's opening).
    counter_outside_hours: ReceiptRule = ReceiptRule.NEXT_OPENING
    # Rule 4, WORKING_DAYS: a working day is this much working time.
    working_day: timedelta = timedelta(hours=8)
    # Rule 3: an online dossier not received within this working time is "received late".
    receipt_allowance: timedelta = timedelta(hours=8)
    # Rule 2: 24 Nov (Ngày Văn hóa Việt Nam) as a day off.
    culture_day_off: bool = False
    # Rule 7: "ended early" when ended at least this much working time before the due time.
    early_margin: timedelta = timedelta(hours=8)
    # Alerts: "near deadline" when this much working time or less remains.
    near_deadline: timedelta = timedelta(hours=8)
    # Rule 6: an extended dossier is judged against the original date, tracked against the new one.
    extension_judged_against: ExtensionJudgement = ExtensionJudgement.ORIGINAL
    # Rule 4, DAYS/MONTHS: False = same clock time as the receipt (the default, docs/domain-rules.md
    # §4); True = the close of office of the last day (Civil Code Art. 148: a period in days ends
    # with the day).
    # With the default, due times are monotone in the limit by date only: 19 days landing on a
    # Saturday end at Monday's close (17:00), 21 days landing on that Monday at the receipt's
    # clock time (e.g. 07:30). True makes them monotone to the minute.
    calendar_units_end_at_close: bool = False
    # Rule 5: statuses that stop the clock when a procedure says nothing.
    default_pause_on: frozenset[Status] = field(
        default_factory=lambda: frozenset({Status.SUPPLEMENT_REQUESTED})
    )


DEFAULT_POLICY = DeadlinePolicy()
