"""The devices a Sunstream system shows in Home Assistant."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo

from .const import CONF_BATTERY_KWH, CONF_PV_PEAK_KW, DOMAIN
from .pysunstream.model import DeviceKind

if TYPE_CHECKING:
    from .coordinator import SunstreamConfigEntry, SunstreamCoordinator

MANUFACTURER = "Sunstream"


class DeviceRole(StrEnum):
    """Where on the system an entity lives."""

    SYSTEM = "system"
    BATTERY = "battery"


def identifier(system_id: str, role: DeviceRole) -> tuple[str, str]:
    """Device-registry identifier of a system's part."""
    if role is DeviceRole.SYSTEM:
        return (DOMAIN, system_id)
    return (DOMAIN, f"{system_id}_{role.value}")


def expected_roles(entry: SunstreamConfigEntry) -> set[DeviceRole]:
    """The parts this entry's system has right now.

    Without a running system (entry not loaded) a simulated system's
    configuration still tells whether it has a battery.
    """
    roles = {DeviceRole.SYSTEM}
    coordinator = getattr(entry, "runtime_data", None)
    if coordinator is not None and coordinator.data is not None:
        has_battery = coordinator.data.has_battery
    else:
        has_battery = entry.data.get(CONF_BATTERY_KWH, 0) > 0
    if has_battery:
        roles.add(DeviceRole.BATTERY)
    return roles


def _system_id(entry: SunstreamConfigEntry) -> str:
    return entry.unique_id or entry.entry_id


def device_info(coordinator: SunstreamCoordinator, role: DeviceRole) -> DeviceInfo:
    """Describe a part of the system for the device registry.

    Sources that identify themselves (model, serial, firmware) fill the
    details; a simulated system describes itself from its configuration.
    """
    entry = coordinator.config_entry
    data = coordinator.data
    if role is DeviceRole.SYSTEM:
        identity = data.identity() if data is not None else None
        info = DeviceInfo(
            identifiers={identifier(coordinator.system_id, role)},
            name=entry.title,
            manufacturer=MANUFACTURER,
            model="Simulated PV system",
            model_id=f"SIM-{entry.data.get(CONF_PV_PEAK_KW, 0):g}",
            serial_number=coordinator.system_id,
        )
    else:
        identity = data.identity(DeviceKind.BATTERY) if data is not None else None
        info = DeviceInfo(
            identifiers={identifier(coordinator.system_id, role)},
            manufacturer=MANUFACTURER,
            model="Simulated battery",
            model_id=f"SIM-BAT-{entry.data.get(CONF_BATTERY_KWH, 0):g}",
            translation_key="battery",
            translation_placeholders={"system": entry.title},
        )
        if coordinator.system_device_id is not None:
            info = DeviceInfo(**info, via_device_id=coordinator.system_device_id)
    if identity is not None:
        info["manufacturer"] = identity.manufacturer
        info["model"] = identity.model
        info["model_id"] = None
        info["serial_number"] = identity.serial
        info["sw_version"] = identity.firmware
        info["hw_version"] = identity.hardware
    return info


@callback
def async_register_system_device(hass: HomeAssistant, coordinator: SunstreamCoordinator) -> str:
    """Create the system's device first, so parts can hang off it."""
    registry = dr.async_get(hass)
    device = registry.async_get_or_create(
        config_entry_id=coordinator.config_entry.entry_id,
        **device_info(coordinator, DeviceRole.SYSTEM),
    )
    return device.id


@callback
def async_remove_stale_devices(hass: HomeAssistant, entry: SunstreamConfigEntry) -> None:
    """Drop devices of parts the system no longer has (e.g. a removed battery)."""
    registry = dr.async_get(hass)
    system_id = _system_id(entry)
    keep = {identifier(system_id, role) for role in expected_roles(entry)}
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if not device.identifiers & keep:
            registry.async_remove_device(device.id)


def is_stale(entry: SunstreamConfigEntry, device: dr.DeviceEntry) -> bool:
    """Whether ``device`` is no part of ``entry``'s system any more."""
    system_id = _system_id(entry)
    keep = {identifier(system_id, role) for role in expected_roles(entry)}
    return not device.identifiers & keep
