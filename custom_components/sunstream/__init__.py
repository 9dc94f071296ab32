"""Sunstream: solar inverters and home batteries in Home Assistant."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN
from .coordinator import SunstreamConfigEntry, SunstreamCoordinator
from .devices import (
    async_register_system_device,
    async_remove_stale_devices,
    is_stale,
    readings,
)
from .services import async_setup_services
from .sources import create_source
from .store import system_store
from .system_alerts import SystemAlerts

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.EVENT,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.TIME,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions, once for all systems."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: SunstreamConfigEntry) -> bool:
    """Connect to the system and add its entities."""
    coordinator = SunstreamCoordinator(
        hass, entry, create_source(hass, entry), system_id=entry.unique_id or entry.entry_id
    )
    coordinator.system_device_id = async_register_system_device(hass, coordinator)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    coordinator.alerts = SystemAlerts(hass, coordinator)
    entry.async_on_unload(coordinator.alerts.async_start())
    # Now that the system has answered, record what it says it is.
    async_register_system_device(hass, coordinator)
    async_remove_stale_devices(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # Sources holding a session open between polls (WiNet) keep it alive
    # themselves; the task ends with the entry.
    if (keepalive := getattr(coordinator.source, "async_run_keepalive", None)) is not None:
        entry.async_create_background_task(hass, keepalive(), f"{DOMAIN} keep-alive {entry.title}")

    parts = set(readings(coordinator.data))

    @callback
    def forget_vanished_parts() -> None:
        nonlocal parts
        current = set(readings(coordinator.data))
        if current != parts:
            parts = current
            async_remove_stale_devices(hass, entry)

    entry.async_on_unload(coordinator.async_add_listener(forget_vanished_parts))
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
