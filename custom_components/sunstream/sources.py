"""Build the right source for a config entry."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError

from .const import CONF_BATTERY_KWH, CONF_PV_PEAK_KW, CONF_SOURCE, DOMAIN, SourceType
from .pysunstream.simulator import SimulatedSystem, SimulatorConfig
from .pysunstream.source import Source


def _simulated(hass: HomeAssistant, entry: ConfigEntry) -> SimulatedSystem:
    location: tuple[float, float] | None = (hass.config.latitude, hass.config.longitude)
    if location == (0.0, 0.0):
        location = None  # no home location set: fall back to the demo curve
    return SimulatedSystem(
        SimulatorConfig(
            pv_peak_kw=entry.data[CONF_PV_PEAK_KW],
            battery_kwh=entry.data.get(CONF_BATTERY_KWH, 0.0),
            seed=entry.unique_id or entry.entry_id,
            location=location,
        )
    )


def create_source(hass: HomeAssistant, entry: ConfigEntry) -> Source:
    """The source an entry describes; unknown kinds stop the set-up for good."""
    kind = entry.data.get(CONF_SOURCE, SourceType.SIMULATED.value)
    if kind == SourceType.SIMULATED:
        return _simulated(hass, entry)
    raise ConfigEntryError(
        translation_domain=DOMAIN,
        translation_key="source_not_supported",
        translation_placeholders={"source": str(kind)},
    )
