"""What the sunshine was worth: savings and avoided CO2.

Both are booked as energy arrives, at the tariff and emission factor in
force at that moment, so changing the tariff never rewrites the past.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .periods import PeriodCounter

# A tree absorbs about 21 kg of CO2 a year, the figure trees-equivalent
# counters commonly use.
CO2_KG_PER_TREE = 21.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EconomicsReading:
    """The economics as of one poll, for entities to show."""

    savings_today: float
    savings_month: float
    savings_total: float
    co2_offset: float  # kg
    trees_equivalent: float


@dataclass(slots=True)
class Economics:
    """Savings (currency) and CO2 offset (kg) from PV energy."""

    savings: PeriodCounter = field(default_factory=PeriodCounter)
    co2_kg: PeriodCounter = field(default_factory=PeriodCounter)
    pv_high_water: float | None = None

    def book(
        self, pv_total_kwh: float | None, at: datetime, tariff: float, co2_factor: float
    ) -> None:
        """Account for PV energy produced since the last reading.

        Only growth past the highest lifetime reading seen counts, so a
        glitching or restarting source is never paid twice.
        """
        self.savings.roll(at)
        self.co2_kg.roll(at)
        if pv_total_kwh is None:
            return
        if self.pv_high_water is None:
            self.pv_high_water = pv_total_kwh
            return
        produced = pv_total_kwh - self.pv_high_water
        if produced <= 0:
            return
        self.pv_high_water = pv_total_kwh
        self.savings.add(produced * tariff, at)
        self.co2_kg.add(produced * co2_factor, at)

    def reading(self) -> EconomicsReading:
        """What the counters say now."""
        return EconomicsReading(
            savings_today=self.savings.today,
            savings_month=self.savings.month,
            savings_total=self.savings.total,
            co2_offset=self.co2_kg.total,
            trees_equivalent=self.co2_kg.total / CO2_KG_PER_TREE,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "savings": self.savings.as_dict(),
            "co2_kg": self.co2_kg.as_dict(),
            "pv_high_water": self.pv_high_water,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Economics:
        """Inverse of :meth:`as_dict`."""
        high_water = data.get("pv_high_water")
        return cls(
            savings=PeriodCounter.from_dict(data.get("savings", {})),
            co2_kg=PeriodCounter.from_dict(data.get("co2_kg", {})),
            pv_high_water=float(high_water) if high_water is not None else None,
        )
