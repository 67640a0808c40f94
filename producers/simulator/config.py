"""Every knob of the simulation, as plain frozen dataclasses with defaults for a realistic city.

Nothing the simulator does is a constant buried in code: each rate is a field here, settable from
the command line (``--set lifecycle.supplement=0.2``, ``--rate-lost-sync 0.05``) or from Python.
Rates are probabilities per dossier (× system for faults) unless the field's comment says other.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import Any

# The ways systems disagree (docs/domain-rules.md §F), one rate each.
FAULT_KINDS = (
    "sync_lag",  # a system's records arrive late (minutes to days)
    "lost_sync",  # a status change never reaches a system
    "duplicate",  # a record sent twice
    "reorder",  # two records of a system arrive in the wrong order
    "clock_skew",  # a system's timestamps shifted by N minutes
    "calendar_missing_holiday",  # a system's calendar lacks a public holiday period (all its days)
    "calendar_missing_makeup_day",  # a system's calendar lacks a make-up working Saturday
    "missed_pause",  # a supplement pause not recorded in one system (its due date too early)
    "appointment_changed",  # an appointment date changed in one system only
    "unit_remap",  # a system still reports the unit's pre-merger code
)
FAULT_PRESETS = ("none", "default", "all")


@dataclass(frozen=True)
class FaultRates:
    """Per dossier × system, except the two calendar rates (per system × holiday period / make-up
    day)."""

    sync_lag: float = 0.02
    lost_sync: float = 0.01
    duplicate: float = 0.02
    reorder: float = 0.01
    clock_skew: float = 0.005
    calendar_missing_holiday: float = 0.15
    calendar_missing_makeup_day: float = 0.15
    missed_pause: float = 0.05  # per dossier × system, among dossiers that had a pause
    appointment_changed: float = 0.005
    unit_remap: float = 0.01


# ``--faults all``: every kind often enough to show up in a few thousand dossiers.
ALL_FAULTS = FaultRates(
    sync_lag=0.08,
    lost_sync=0.05,
    duplicate=0.08,
    reorder=0.05,
    clock_skew=0.04,
    calendar_missing_holiday=1.0,
    calendar_missing_makeup_day=1.0,
    missed_pause=0.3,
    appointment_changed=0.04,
    unit_remap=0.05,
)
NO_FAULTS = FaultRates(**dict.fromkeys((f.name for f in fields(FaultRates)), 0.0))


@dataclass(frozen=True)
class FaultShape:
    """How big a fault is, once it happens."""

    sync_lag_min_minutes: float = 10.0
    sync_lag_max_minutes: float = 3 * 24 * 60.0  # log-uniform between min and max
    duplicate_max_delay_seconds: float = 1800.0  # a retry resends within half an hour
    reorder_max_gap_seconds: float = 120.0  # how far the overtaken record falls behind
    skew_min_minutes: int = 5
    skew_max_minutes: int = 120  # either sign
    appointment_shift_max_days: int = 5  # working days the date is moved, either way


@dataclass(frozen=True)
class LagConfig:
    """Normal delay between an event and its system sending it (seconds, uniform): not a fault."""

    onestop_min_s: float = 0.5
    onestop_max_s: float = 20.0
    portal_min_s: float = 60.0  # the portal syncs in batches
    portal_max_s: float = 900.0
    ministry_min_s: float = 5.0  # civil, land, business
    ministry_max_s: float = 180.0
    record_write_max_s: float = 3.0  # event → the system's own ``recorded_at``

    def bounds(self, system: str) -> tuple[float, float]:
        if system == "onestop":
            return self.onestop_min_s, self.onestop_max_s
        if system == "portal":
            return self.portal_min_s, self.portal_max_s
        return self.ministry_min_s, self.ministry_max_s


@dataclass(frozen=True)
class WorkloadConfig:
    """When dossiers arrive and through which channel."""

    online_factor: float = 1.0  # × each procedure's typical online share (workload.PROCEDURE_MIX)
    postal_share: float = 0.03
    weekend_online_factor: float = 0.35  # online submissions on a weekend day vs a working day
    holiday_online_factor: float = 0.25
    # Seasonal volume by month (Jan … Dec): the rush before Tết, the lull of Tết, school enrolment.
    season: tuple[float, ...] = (1.25, 0.8, 1.0, 1.0, 1.0, 1.1, 1.15, 1.05, 1.0, 1.0, 1.0, 1.1)
    applicant_pool: float = 0.85  # distinct applicants per dossier (some submit several)
    digitised_share: float = 0.85  # component documents digitised (indicator 4.2)
    reused_share: float = 0.6  # component documents taken from the citizen's data store (4.3)
    paid_online_share: float = 0.55  # of online dossiers of procedures with a fee (3.6)
    electronic_result_share: float = 0.7  # results issued as a signed file (4.1)


@dataclass(frozen=True)
class LifecycleConfig:
    """How dossiers are processed, in truth."""

    reject_at_reception: float = 0.02  # of online and postal dossiers: refused at reception
    complex_case: float = 0.15  # the longer limit applies, where the procedure has one
    online_reception_hours: float = 2.0  # typical working hours until an online dossier is received
    received_late: float = 0.06  # online dossiers received after more than 1 working day
    supplement: float = 0.12  # a supplement request (clock paused)
    second_supplement: float = 0.2  # of those, a second request
    supplement_min_days: float = 0.5  # calendar days the citizen takes to supplement
    supplement_max_days: float = 12.0
    supplement_abandoned: float = 0.05  # the citizen never supplements
    financial: float = 0.75  # of procedures with a financial obligation: the citizen must pay first
    financial_min_days: float = 0.5
    financial_max_days: float = 8.0
    transfer: float = 0.15  # inter-agency transfer (liên thông), where the procedure has one
    extension: float = 0.03  # apology letter with a new appointment date
    extension_max_days: int = 5  # working days added by the letter
    late: float = 0.04  # completed after the due time, without a letter
    early: float = 0.35  # completed well before the due time
    withdraw: float = 0.01
    stop: float = 0.003
    pickup_max_days: float = 5.0  # working days before a paper result is collected


@dataclass(frozen=True)
class SimulationConfig:
    seed: int = 7
    dossiers: int = 3000
    days: int = 1  # days over which dossiers arrive
    start: date = date(2026, 3, 2)
    tail_days: int = 0  # days the city keeps working after the last arrival (no new dossiers)
    speed: float = 0.0  # 0: as fast as possible; N: N simulated seconds per wall second
    faults: FaultRates = field(default_factory=FaultRates)
    shape: FaultShape = field(default_factory=FaultShape)
    lags: LagConfig = field(default_factory=LagConfig)
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)

    def __post_init__(self) -> None:
        if self.dossiers < 0 or self.days < 1 or self.tail_days < 0 or self.speed < 0:
            raise ValueError("dossiers ≥ 0, days ≥ 1, tail_days ≥ 0 and speed ≥ 0 are required")
        for f in fields(self.faults):
            if not 0.0 <= getattr(self.faults, f.name) <= 1.0:
                raise ValueError(f"faults.{f.name} must be a probability in [0, 1]")


def fault_preset(name: str) -> FaultRates:
    if name == "none":
        return NO_FAULTS
    if name == "default":
        return FaultRates()
    if name == "all":
        return ALL_FAULTS
    raise ValueError(f"unknown fault preset {name!r}: one of {', '.join(FAULT_PRESETS)}")


def _coerce(kind: Any, text: str) -> Any:
    """A ``--set`` value's text as the field's type."""
    origin = typing.get_origin(kind)
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"not a boolean: {text!r}")
    if kind in (int, float, str):
        return kind(text)
    if kind is date:
        return date.fromisoformat(text)
    if origin is tuple:
        (item, *_) = typing.get_args(kind)
        return tuple(_coerce(item, part.strip()) for part in text.split(","))
    if origin in (typing.Union, types.UnionType):
        return _coerce(next(a for a in typing.get_args(kind) if a is not type(None)), text)
    raise ValueError(f"cannot set a field of type {kind!r} from text")


def with_settings(config: Any, assignments: dict[str, str]) -> Any:
    """``config`` with ``{"lifecycle.supplement": "0.2", ...}`` applied (dotted paths, text values)."""
    for path, text in assignments.items():
        config = _set(config, path.split("."), text, path)
    return config


def _set(obj: Any, parts: list[str], text: str, path: str) -> Any:
    hints = typing.get_type_hints(type(obj))
    name = parts[0].replace("-", "_")
    if not dataclasses.is_dataclass(obj) or name not in hints:
        raise ValueError(f"unknown setting {path!r}")
    if len(parts) == 1:
        if dataclasses.is_dataclass(hints[name]):
            raise ValueError(f"{path!r} is a group of settings; set one of its fields")
        return replace(obj, **{name: _coerce(hints[name], text)})  # type: ignore[type-var]
    return replace(obj, **{name: _set(getattr(obj, name), parts[1:], text, path)})  # type: ignore[type-var]


def setting_names(config: Any | None = None, prefix: str = "") -> list[str]:
    """Every settable dotted path with its current value, for ``--help`` and error messages."""
    config = config if config is not None else SimulationConfig()
    out = []
    for f in fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out += setting_names(value, f"{prefix}{f.name}.")
        else:
            out.append(f"{prefix}{f.name}={value}")
    return out
