"""How the merge weighs its sources: trust order, who has the last word in a stage, conflict
tolerances, and the legal rules it applies. Plain data; built from settings by
``streams.configured``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from streams.conflicts import ConflictPolicy
from streams.domain.unitcodes import UnitCodes
from streams.legal import LegalRules
from streams.model import Status
from streams.pauses import DEFAULT_PAUSING

# Which system is trusted first for a dossier's attributes and, within a stage, its status.
# The city one-stop system is where dossiers are received and processed; the national portal
# mirrors it; ministry systems own their specialised steps (docs/domain-rules.md §11).
DEFAULT_PRIORITY = ("onestop", "portal", "civil", "land", "business", "import")


@dataclass(frozen=True)
class MergePolicy:
    source_priority: tuple[str, ...] = DEFAULT_PRIORITY
    # stage -> sources whose word wins within that stage, in order (others only when these are silent)
    stage_authority: dict[int, tuple[str, ...]] = field(default_factory=lambda: {2: ("onestop",)})
    conflicts: ConflictPolicy = field(default_factory=ConflictPolicy)
    pausing: frozenset[Status] = DEFAULT_PAUSING  # when there are no legal rules
    rules: LegalRules | None = None  # None: no legal due times (tests of the merge alone)
    # Deadline moments are legal times (a source's stamp of a step), but dongbo learns of a step
    # when the record is captured, a normal sync delay later: a deadline is judged this long after
    # it passes, on what was captured by then, so a completion still in flight does not read as
    # overdue (docs/guarantees.md#stream-time).
    alert_grace: timedelta = timedelta(0)
    # Retired unit codes (2025 mergers) → the unit that holds them: a system still sending an old
    # code counts the dossier under today's unit. Empty: codes as sent (tests of the merge alone).
    unit_codes: UnitCodes = field(default_factory=UnitCodes)
    # source -> its place in ``source_priority``, looked up on every history entry of every derive
    _ranks: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ranks", {s: i for i, s in reversed(list(enumerate(self.source_priority)))})

    def rank(self, source: str) -> int:
        """The source's place in the trust order (unknown sources last)."""
        return self._ranks.get(source, len(self.source_priority))


DEFAULT_POLICY = MergePolicy()
