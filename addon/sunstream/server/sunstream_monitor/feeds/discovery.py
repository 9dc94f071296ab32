"""Which Sunstream systems Home Assistant has, from its device and entity registries.

The integration registers one device per system, identified by
``("sunstream", system_id)`` and hanging off nothing; the parts behind it
(inverters, batteries) are devices *via* that one (or, in HA's newer model,
its child devices). Its entities have the
unique id ``f"{system_id}_{key}"`` and belong to the system's config entry,
which is how an entity on a part device still finds its system.

Where a system's data comes from is not in the registries: its device's
manufacturer and model name the hardware, not the link (a Sungrow inverter is
read over WiNet or over Modbus TCP, and a system that never connected still
shows its placeholder device). The integration says it instead, in its
connectivity sensor's ``source`` attribute and every event's ``source``
(see :class:`~sunstream_monitor.feeds.ha_tracker.SystemTracker`); a system is
``unknown`` here until one of those arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..hub import SourceKind, SystemInfo
from ..monitoring import BATTERY_KEYS, CONNECTIVITY, KEYS, PV_ENERGY_TOTAL

DOMAIN: Final = "sunstream"
# The key of each system's alert event entity (unique id ``f"{system_id}_alert"``),
# whose ``active`` attribute lists the alerts active right now.
ALERT_ENTITY_KEY: Final = "alert"


@dataclass(frozen=True, slots=True)
class SystemLayout:
    """One system: who it is, the entity id behind each key the document reads, its alerts."""

    info: SystemInfo
    entities: Mapping[str, str]
    alert_entity: str | None = field(default=None, kw_only=True)

    @property
    def has_battery(self) -> bool:
        """Whether the system has battery entities at all."""
        return any(key in self.entities for key in BATTERY_KEYS)

    @property
    def connectivity(self) -> str | None:
        """Entity id of the system's connectivity sensor."""
        return self.entities.get(CONNECTIVITY)

    @property
    def statistic_id(self) -> str | None:
        """The lifetime PV energy sensor, whose statistics feed the chart."""
        return self.entities.get(PV_ENERGY_TOTAL)


def _system_id(device: Mapping[str, Any]) -> str | None:
    """The system id if ``device`` is a system's own device (not a part)."""
    if _parent(device) is not None:
        return None
    for identifier in device.get("identifiers") or ():
        if (
            isinstance(identifier, list | tuple)
            and len(identifier) == 2
            and identifier[0] == DOMAIN
            and isinstance(identifier[1], str)
        ):
            return identifier[1]
    return None


def _parent(device: Mapping[str, Any]) -> str | None:
    """The device a part hangs off: ``via_device_id``, or a child device's parent."""
    for key in ("via_device_id", "parent_device_id"):
        if isinstance(value := device.get(key), str) and value:
            return value
    return None


def _config_entry_id(device: Mapping[str, Any]) -> str | None:
    """The device's config entry (``config_entry_id`` since 2026.9, else the older keys)."""
    for key in ("config_entry_id", "primary_config_entry"):
        if isinstance(value := device.get(key), str):
            return value
    entries = device.get("config_entries") or ()
    return str(entries[0]) if entries else None


def discover(
    devices: Iterable[Mapping[str, Any]],
    entities: Iterable[Mapping[str, Any]],
    sources: Mapping[str, SourceKind] | None = None,
) -> dict[str, SystemLayout]:
    """Systems by id, from ``config/device_registry/list`` and ``…/entity_registry/list``.

    Only enabled entities whose key the document reads are kept, and the
    system's alert entity: the feed subscribes to exactly those. ``sources``
    are sources already learnt from the integration, by system id.
    """
    sources = sources or {}
    infos: dict[str, SystemInfo] = {}
    system_of_entry: dict[str, str] = {}
    system_of_device: dict[str, str] = {}
    parts: dict[str, str] = {}  # part device id -> the device it hangs off
    for device in devices:
        device_id = device.get("id")
        if not isinstance(device_id, str):
            continue
        if (parent := _parent(device)) is not None:
            parts[device_id] = parent
        system_id = _system_id(device)
        if system_id is None or system_id in infos:
            continue
        entry_id = _config_entry_id(device)
        name = device.get("name_by_user") or device.get("name") or system_id
        infos[system_id] = SystemInfo(
            system_id=system_id,
            name=str(name),
            source=sources.get(system_id, SourceKind.UNKNOWN),
            device_id=device_id,
            config_entry_id=entry_id,
        )
        system_of_device[device_id] = system_id
        if entry_id is not None:
            system_of_entry[entry_id] = system_id

    keyed: dict[str, dict[str, str]] = {system_id: {} for system_id in infos}
    alert_entities: dict[str, str] = {}
    for entity in entities:
        if entity.get("platform") != DOMAIN or entity.get("disabled_by"):
            continue
        entity_id = entity.get("entity_id")
        unique_id = entity.get("unique_id")
        if not isinstance(entity_id, str) or not isinstance(unique_id, str):
            continue
        system_id = system_of_entry.get(str(entity.get("config_entry_id")))
        if system_id is None:
            device_id = entity.get("device_id")
            device_id = parts.get(str(device_id), device_id)
            system_id = system_of_device.get(str(device_id))
        if system_id is None or not unique_id.startswith(prefix := f"{system_id}_"):
            continue
        key = unique_id.removeprefix(prefix)
        if key in KEYS:
            keyed[system_id][key] = entity_id
        elif key == ALERT_ENTITY_KEY:
            alert_entities[system_id] = entity_id
    return {
        system_id: SystemLayout(
            info=info, entities=keyed[system_id], alert_entity=alert_entities.get(system_id)
        )
        for system_id, info in infos.items()
    }
