"""How a system is treated: the options of its entry, with their defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .const import CONF_CO2_FACTOR, CONF_TARIFF, CONF_UPDATE_INTERVAL


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemOptions:
    """The options every system has; a field's default is the option's."""

    update_interval: int = 5  # s
    tariff: float = 0.85  # currency per kWh
    co2_factor: float = 0.5  # kg per kWh

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> SystemOptions:
        """Read from an entry's options; a missing one is the default."""
        default = cls()
        return cls(
            update_interval=options.get(CONF_UPDATE_INTERVAL, default.update_interval),
            tariff=options.get(CONF_TARIFF, default.tariff),
            co2_factor=options.get(CONF_CO2_FACTOR, default.co2_factor),
        )

    def as_options(self) -> dict[str, Any]:
        """The entry's options as Home Assistant stores them."""
        return {
            CONF_UPDATE_INTERVAL: self.update_interval,
            CONF_TARIFF: self.tariff,
            CONF_CO2_FACTOR: self.co2_factor,
        }


DEFAULT_OPTIONS = SystemOptions()
