"""The merge rule: ``(state, event) -> state``, pure, deterministic, order-insensitive.

An event is applied once (its deterministic ``event_id``); the state is re-derived from the
event-time-ordered history (``streams.derive``), so a stale or reordered event never moves a
dossier backwards and a duplicate never counts twice. ``version`` goes up by one for every
visible change.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime

from streams.derive import derive
from streams.merge_policy import DEFAULT_POLICY, MergePolicy
from streams.model import DossierEvent
from streams.state import Conflict, DossierState, HistoryEntry


@dataclass(frozen=True)
class MergeResult:
    state: DossierState
    applied: bool  # False: the event had been applied before (duplicate or redelivery)
    changed: bool  # True: the visible state changed and ``version`` went up


def apply_event(
    state: DossierState | None,
    event: DossierEvent,
    now: datetime,
    policy: MergePolicy = DEFAULT_POLICY,
) -> MergeResult:
    base = state if state is not None else DossierState(dossier_id=event.dossier_id)
    if event.dossier_id != base.dossier_id:
        raise ValueError(f"event for {event.dossier_id} applied to state of {base.dossier_id}")
    if any(h.event_id == event.event_id for h in base.history):
        return MergeResult(base, applied=False, changed=False)
    history = list(base.history)
    entry = HistoryEntry.of_event(event)
    bisect.insort(history, entry, key=HistoryEntry.order_key)
    return _result(base, derive(base, history, policy, as_of=now), now, applied=True)


def apply_hidden(state: DossierState | None, event: DossierEvent, before: datetime) -> MergeResult:
    """Keep an event that is not visible yet (captured after the moment the dossier stands at):
    nothing derived changes, so nothing is derived; it shows when the dossier is evaluated at its
    capture. ``before``: the evaluation moment of a dossier first seen this way (earlier than any
    capture, so that every record of it is still to show)."""
    base = state if state is not None else DossierState(dossier_id=event.dossier_id, evaluated_at=before)
    if event.dossier_id != base.dossier_id:
        raise ValueError(f"event for {event.dossier_id} applied to state of {base.dossier_id}")
    if any(h.event_id == event.event_id for h in base.history):
        return MergeResult(base, applied=False, changed=False)
    history = list(base.history)
    bisect.insort(history, HistoryEntry.of_event(event), key=HistoryEntry.order_key)
    return MergeResult(base.evolve(history=tuple(history)), applied=True, changed=False)


def evaluate(state: DossierState, as_of: datetime, policy: MergePolicy = DEFAULT_POLICY) -> MergeResult:
    """Re-evaluate the time-dependent parts (conflict tolerances, ...) at ``as_of``, no new event."""
    return _result(state, derive(state, state.history, policy, as_of=as_of), as_of, applied=False)


def _result(base: DossierState, derived: DossierState, now: datetime, applied: bool) -> MergeResult:
    changed = not derived.same_visible(base)
    if changed:
        derived = derived.evolve(version=base.version + 1, updated_at=now)
    return MergeResult(derived, applied=applied, changed=changed)


def new_alerts(old: DossierState | None, new: DossierState) -> list[str]:
    """Deadline alerts that fired between two states of a dossier."""
    before = set(old.alerts if old else ())
    return [a for a in new.alerts if a not in before]


def conflict_changes(old: DossierState | None, new: DossierState) -> tuple[list[Conflict], list[Conflict]]:
    """(opened, resolved) between two states of a dossier: each conflict is reported once each way."""
    before = {c.key: c for c in (old.conflicts if old else ())}
    after = {c.key: c for c in new.conflicts}
    return [c for k, c in after.items() if k not in before], [c for k, c in before.items() if k not in after]
