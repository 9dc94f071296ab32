"""Sunstream: solar inverters and home batteries in Home Assistant."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN
from .coordinator import SunstreamCoordinator
from .devices import (
    async_register_system_device,
    async_remove_stale_devices,
    is_stale,
    readings,
    system_id_of,
)
from .pysunstream.capabilities import KeepsAlive
from .runtime import SunstreamConfigEntry, SunstreamRuntime
from .services import async_setup_services
from .shared_modbus import async_start_shared
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
    source = create_source(hass, entry)
    coordinator = SunstreamCoordinator(
        hass,
        entry,
        source,
        system_id=system_id_of(entry),
        system_device_id=async_register_system_device(hass, entry, None),
    )
    await coordinator.async_config_entry_first_refresh()
    alerts = SystemAlerts(hass, coordinator)
    entry.runtime_data = SunstreamRuntime(coordinator=coordinator, alerts=alerts)
    entry.async_on_unload(alerts.async_start())
    # Now that the system has answered, record what it says it is.
    async_register_system_device(hass, entry, coordinator.data)
    async_remove_stale_devices(hass, entry, coordinator.data)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # Sources holding a session open between polls (WiNet) keep it alive
    # themselves; the task ends with the entry.
    if isinstance(source, KeepsAlive):
        entry.async_create_background_task(
            hass, source.async_run_keepalive(), f"{DOMAIN} keep-alive {entry.title}"
        )

    await async_start_shared(hass, entry, source)

    parts = set(readings(coordinator.data))

    @callback
    def forget_vanished_parts() -> None:
        nonlocal parts
        current = set(readings(coordinator.data))
        if current != parts:
            parts = current
            async_remove_stale_devices(hass, entry, coordinator.data)

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
    # Home Assistant sets runtime_data only once a set-up succeeded (the
    # attribute does not exist before); an entry unloaded since keeps the
    # last, which still tells the system's parts, so the entry's state is no
    # substitute.
    try:
        runtime: SunstreamRuntime | None = entry.runtime_data
    except AttributeError:
        runtime = None
    return is_stale(entry, runtime.coordinator.data if runtime is not None else None, device)
