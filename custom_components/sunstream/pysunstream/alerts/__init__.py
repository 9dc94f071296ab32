"""The alert engine: rules over a system's readings.

Hysteresis and minimum durations keep noise from becoming an alert storm.

Source-neutral and free of I/O and of Home Assistant: the caller feeds
readings with timestamps and receives transitions (raised / cleared).
"""

from __future__ import annotations

from .engine import AlertEngine, AlertState, Transition
from .rules import DEFAULT_RULES, Band, Reading, Rule, Severity, default_rules

__all__ = [
    "DEFAULT_RULES",
    "AlertEngine",
    "AlertState",
    "Band",
    "Reading",
    "Rule",
    "Severity",
    "Transition",
    "default_rules",
]
