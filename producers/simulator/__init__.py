"""A deterministic Da Nang–scale city simulator feeding every source system's topic.

``run_simulation(settings, SimulationConfig(seed=7, dossiers=3000, days=1), truth_path=...)``
generates dossiers (``workload``), lives their true lifecycles (``lifecycle``), lets each system
see them its own way (``views``), injects the faults that make systems disagree (``faults``),
and sends the raw records through the adapters (``emit``); the ground truth goes to JSON Lines
(``truth``; format in ``docs/simulator.md``). Same seed, same bytes.
"""

from producers.simulator.config import FAULT_KINDS, FaultRates, SimulationConfig, fault_preset
from producers.simulator.emit import SimulationSummary, run_simulation
from producers.simulator.workload import SimulationError

__all__ = [
    "FAULT_KINDS",
    "FaultRates",
    "SimulationConfig",
    "SimulationError",
    "SimulationSummary",
    "fault_preset",
    "run_simulation",
]
