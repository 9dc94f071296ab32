"""Lifetime totals that never go backwards, one set per system.

A source that glitches (a bad read, a counter reset by a firmware update,
a simulation that lost its state) would otherwise make the Energy
dashboard book a meter reset and then the whole total again as a spike.
The highest value each total has shown is kept and a lower reading is held
at it until the source catches up.

The highest values belong to the system, not to the names its totals are
shown under: they are saved with the system's other state and deleted with
it, so a system added later (even one whose entities get the ids a removed
system had) starts from its own counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class LifetimeTotals:
    """The highest value each lifetime total of one system has shown."""

    highest: dict[str, float] = field(default_factory=dict)

    def hold(self, key: str, value: float) -> float:
        """``value``, or the highest ``key`` has shown if ``value`` is lower."""
        best = self.highest.get(key)
        if best is not None and value < best:
            return best
        self.highest[key] = float(value)
        return value

    def last(self, key: str) -> float | None:
        """The highest value ``key`` has shown, if any."""
        return self.highest.get(key)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.highest)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LifetimeTotals:
        """Inverse of :meth:`as_dict`; anything not a number is dropped."""
        return cls(
            {
                key: float(value)
                for key, value in data.items()
                if isinstance(value, int | float) and not isinstance(value, bool)
            }
        )
