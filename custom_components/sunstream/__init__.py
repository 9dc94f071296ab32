"""Sunstream: solar inverters and home batteries in Home Assistant."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .const import CONF_BATTERY_KWH, CONF_PV_PEAK_KW, DOMAIN
from .coordinator import SunstreamConfigEntry, SunstreamCoordinator
from .devices import async_register_system_device, async_remove_stale_devices, is_stale
from .pysunstream.simulator import SimulatedSystem, SimulatorConfig
from .services import async_setup_services
from .store import system_store

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions, once for all systems."""
    async_setup_services(hass)
    return True


def _simulated_source(hass: HomeAssistant, entry: SunstreamConfigEntry) -> SimulatedSystem:
    location: tuple[float, float] | None = (hass.config.latitude, hass.config.longitude)
    if location == (0.0, 0.0):
        location = None  # no location configured: fall back to the demo curve
    return SimulatedSystem(
        SimulatorConfig(
            pv_peak_kw=entry.data[CONF_PV_PEAK_KW],
            battery_kwh=entry.data.get(CONF_BATTERY_KWH, 0.0),
            seed=entry.unique_id or entry.entry_id,
            location=location,
        )
    )


async def async_setup_entry(hass: HomeAssistant, entry: SunstreamConfigEntry) -> bool:
    """Connect to the system and add its entities."""
    coordinator = SunstreamCoordinator(
        hass, entry, _simulated_source(hass, entry), system_id=entry.unique_id or entry.entry_id
    )
    coordinator.system_device_id = async_register_system_device(hass, coordinator)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    async_remove_stale_devices(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: SunstreamConfigEntry) -> bool:
    """Remove the entities; the coordinator saves and closes on unload."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: SunstreamConfigEntry) -> None:
    """Forget the system's saved counters when the entry is deleted."""
    await system_store(hass, entry.entry_id).async_remove()


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: SunstreamConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user delete a device only when the system no longer has it."""
    return is_stale(entry, device)
