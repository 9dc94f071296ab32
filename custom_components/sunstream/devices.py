"""The devices a Sunstream system shows in Home Assistant.

A system is one device (the simulated house, a WiNet gateway, an AlphaESS
unit); the parts behind it (inverters, batteries) are devices connected
through it. Parts come and go with what the source reports.
"""

from __future__ import annotations

from enum import StrEnum

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo

from .const import CONF_BATTERY_KWH, CONF_PV_PEAK_KW, CONF_SOURCE, SourceType
from .coordinator import SunstreamCoordinator
from .identifiers import part_identifier, system_identifier
from .pysunstream.model import DeviceIdentity, DeviceKind, DeviceReading, PartKey
from .system_data import SystemData

MANUFACTURER = "Sunstream"


class DeviceRole(StrEnum):
    """Where on the system an entity lives."""

    SYSTEM = "system"
    BATTERY = "battery"


def _battery_part(data: SystemData | None) -> DeviceIdentity | None:
    """The system's one battery part; ``None`` with none or several.

    With several batteries (two hybrid inverters behind one gateway) each
    shows its own values and the system's sums live on a battery device of
    the system's own.
    """
    if data is None:
        return None
    batteries = [r.identity for r in data.snapshot.devices if r.identity.kind is DeviceKind.BATTERY]
    return batteries[0] if len(batteries) == 1 else None


def battery_target(coordinator: SunstreamCoordinator, device: dr.AnyDeviceEntry) -> PartKey | None:
    """The battery part a command sent to ``device`` is for.

    A battery part's device names that battery; any other device of the
    system (the system itself, its summing battery device) names none,
    which the source takes as "the system's battery".
    """
    for reading in coordinator.data.snapshot.devices:
        identity = reading.identity
        if identity.kind is DeviceKind.BATTERY and (
            part_identifier(coordinator.system_id, identity.key) in device.identifiers
        ):
            return PartKey(identity.key)
    return None


def battery_identifier(system_id: str, data: SystemData | None) -> tuple[str, str]:
    """The battery's device: the part the source reports, else a synthetic one."""
    if (battery := _battery_part(data)) is not None:
        return part_identifier(system_id, battery.key)
    return part_identifier(system_id, DeviceRole.BATTERY.value)


def system_id_of(entry: ConfigEntry) -> str:
    """The system's id: its serial (or a simulation's name), else the entry's id."""
    return entry.unique_id or entry.entry_id


def expected_identifiers(
    entry: ConfigEntry, data: SystemData | None
) -> set[tuple[str, str]] | None:
    """The devices the system has, as ``data`` shows it; ``None`` if unknown.

    Without data (the system never answered) only a simulated system's
    configuration still tells which parts it has.
    """
    system_id = system_id_of(entry)
    keep = {system_identifier(system_id)}
    if data is None:
        if entry.data.get(CONF_SOURCE, SourceType.SIMULATED) != SourceType.SIMULATED:
            return None
        if entry.data.get(CONF_BATTERY_KWH, 0) > 0:
            keep.add(battery_identifier(system_id, None))
        return keep
    if data.has_battery:
        keep.add(battery_identifier(system_id, data))
    keep.update(
        part_identifier(system_id, reading.identity.key) for reading in data.snapshot.devices
    )
    return keep


def _apply_identity(info: DeviceInfo, identity: DeviceIdentity) -> None:
    info["manufacturer"] = identity.manufacturer
    info["model"] = identity.model
    info["model_id"] = None
    info["serial_number"] = identity.serial
    info["sw_version"] = identity.firmware
    info["hw_version"] = identity.hardware


def _part_name(
    coordinator: SunstreamCoordinator, identity: DeviceIdentity
) -> tuple[str, dict[str, str]]:
    """Translation key and placeholders of a part's name.

    The system's name plus what the part is (*Rooftop battery*), numbered
    in the source's order when the system has more than one part of that
    kind (*Rooftop bus 2*): entity ids then read as the system's, never as
    a serial or an internal key.
    """
    system = {"system": coordinator.config_entry.title}
    data = coordinator.data
    siblings = (
        [r.identity.key for r in data.snapshot.devices if r.identity.kind is identity.kind]
        if data is not None
        else []
    )
    if len(siblings) < 2 or identity.key not in siblings:
        return identity.kind.value, system
    number = str(siblings.index(identity.key) + 1)
    return f"{identity.kind.value}_numbered", system | {"number": number}


def part_device_info(coordinator: SunstreamCoordinator, identity: DeviceIdentity) -> DeviceInfo:
    """Describe a part the source reports, connected through the system."""
    translation_key, placeholders = _part_name(coordinator, identity)
    info = DeviceInfo(
        identifiers={part_identifier(coordinator.system_id, identity.key)},
        translation_key=translation_key,
        translation_placeholders=placeholders,
    )
    _apply_identity(info, identity)
    return DeviceInfo(**info, via_device_id=coordinator.system_device_id)


def device_info(coordinator: SunstreamCoordinator, role: DeviceRole) -> DeviceInfo:
    """Describe the system, or its battery, for the device registry.

    Sources that identify themselves (model, serial, firmware) fill the
    details; a simulated system describes itself from its configuration.
    """
    entry = coordinator.config_entry
    data = coordinator.data
    if role is DeviceRole.BATTERY:
        if (battery := _battery_part(data)) is not None:
            return part_device_info(coordinator, battery)
        simulated = entry.data.get(CONF_SOURCE, SourceType.SIMULATED) == SourceType.SIMULATED
        system = data.identity() if data is not None else None
        return DeviceInfo(
            identifiers={battery_identifier(coordinator.system_id, None)},
            translation_key=DeviceKind.BATTERY.value,
            translation_placeholders={"system": entry.title},
            # Real hardware here is a battery the inverter reports without a
            # device of its own (a WiNet hybrid with no SBR listed): its
            # maker's, model unknown.
            manufacturer=MANUFACTURER if simulated else system.manufacturer if system else None,
            model="Simulated battery" if simulated else None,
            model_id=f"SIM-BAT-{entry.data.get(CONF_BATTERY_KWH, 0):g}" if simulated else None,
            via_device_id=coordinator.system_device_id,
        )
    return system_device_info(entry, data)


def system_device_info(entry: ConfigEntry, data: SystemData | None) -> DeviceInfo:
    """Describe the system itself, from what ``data`` says it is if known."""
    system_id = system_id_of(entry)
    info = DeviceInfo(
        identifiers={system_identifier(system_id)},
        name=entry.title,
        manufacturer=MANUFACTURER,
        model="Simulated PV system",
        model_id=f"SIM-{entry.data.get(CONF_PV_PEAK_KW, 0):g}",
        serial_number=system_id,
    )
    if data is not None and (identity := data.identity()) is not None:
        _apply_identity(info, identity)
    return info


def readings(data: SystemData | None) -> dict[str, DeviceReading]:
    """The parts in ``data``, by key."""
    if data is None:
        return {}
    return {reading.identity.key: reading for reading in data.snapshot.devices}


@callback
def async_register_system_device(
    hass: HomeAssistant, entry: ConfigEntry, data: SystemData | None
) -> str:
    """Create (or refresh) the system's device, so parts can hang off it."""
    registry = dr.async_get(hass)
    device = registry.async_get_or_create(
        config_entry_id=entry.entry_id, **system_device_info(entry, data)
    )
    return device.id


@callback
def async_remove_stale_devices(
    hass: HomeAssistant, entry: ConfigEntry, data: SystemData | None
) -> None:
    """Drop devices of parts the system no longer has (a removed battery, inverter)."""
    if (keep := expected_identifiers(entry, data)) is None:
        return
    registry = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if not device.identifiers & keep:
            registry.async_remove_device(device.id)


def is_stale(entry: ConfigEntry, data: SystemData | None, device: dr.DeviceEntry) -> bool:
    """Whether ``device`` is no part of the system ``data`` shows."""
    keep = expected_identifiers(entry, data)
    return keep is not None and not device.identifiers & keep
