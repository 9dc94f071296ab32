"""A lithium home battery: state of charge, power limits and losses."""

from __future__ import annotations

from dataclasses import dataclass

from ..dispatch import BatteryLimits

ONE_WAY_EFFICIENCY = 0.95  # about 90 % round trip
C_RATE = 0.5  # continuous power as a share of capacity per hour
RESERVE_SOC = 10.0  # self-consumption never discharges below this
FLOOR_SOC = 5.0  # nothing discharges below this, forced or not


@dataclass(slots=True)
class Battery:
    """State of charge evolves with the power held since the last step.

    ``power`` follows the Energy dashboard: positive discharges, negative
    charges.
    """

    capacity_kwh: float
    soc: float = 50.0
    power: float = 0.0

    @property
    def limits(self) -> BatteryLimits:
        """What this battery can be asked to do."""
        max_power = self.capacity_kwh * 1000 * C_RATE
        return BatteryLimits(
            capacity_kwh=self.capacity_kwh,
            max_charge_w=max_power,
            max_discharge_w=max_power,
            min_soc=FLOOR_SOC,
            max_soc=100.0,
        )

    def advance(self, seconds: float) -> None:
        """Apply the power held over the last ``seconds`` to the charge."""
        if seconds <= 0 or self.capacity_kwh <= 0:
            return
        kwh = self.power * seconds / 3_600_000
        # Discharging draws more from the cells than it delivers; charging
        # stores less than it takes.
        stored = kwh / ONE_WAY_EFFICIENCY if kwh > 0 else kwh * ONE_WAY_EFFICIENCY
        self.soc = min(100.0, max(0.0, self.soc - stored / self.capacity_kwh * 100))

    def request(self, power: float, floor_soc: float, ceiling_soc: float) -> float:
        """Set the power for the next interval, within limits; return it."""
        if self.capacity_kwh <= 0:
            self.power = 0.0
            return 0.0
        limit = self.capacity_kwh * 1000 * C_RATE
        power = max(-limit, min(limit, power))
        if power > 0 and self.soc <= floor_soc:
            power = 0.0
        if power < 0 and self.soc >= ceiling_soc:
            power = 0.0
        self.power = power
        return power
