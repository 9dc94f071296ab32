"""A simulated solar + battery system, reproducible under a frozen clock."""

from __future__ import annotations

from .system import SimulatedSystem, SimulatorConfig

__all__ = ["SimulatedSystem", "SimulatorConfig"]
