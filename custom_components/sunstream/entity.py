"""Base entity: device placement and write-only-on-change."""

from __future__ import annotations

from typing import Any

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import SunstreamCoordinator
from .devices import DeviceRole, device_info, part_device_info
from .pysunstream.model import DeviceIdentity


class SunstreamEntity(CoordinatorEntity[SunstreamCoordinator]):
    """An entity of one Sunstream system, placed on the system or a part."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: SunstreamCoordinator,
        description: EntityDescription,
        role: DeviceRole = DeviceRole.SYSTEM,
        part: DeviceIdentity | None = None,
    ) -> None:
        """Bind the entity to its system, or to one ``part`` of it."""
        super().__init__(coordinator)
        self.entity_description = description
        if part is None:
            self._attr_unique_id = f"{coordinator.system_id}_{description.key}"
            self._attr_device_info: DeviceInfo = device_info(coordinator, role)
        else:
            self._attr_unique_id = f"{coordinator.system_id}_{part.key}_{description.key}"
            self._attr_device_info = part_device_info(coordinator, part)
        self._written: tuple[Any, ...] | None = None

    async def async_added_to_hass(self) -> None:
        """Remember what the first write (done by the platform) will show."""
        await super().async_added_to_hass()
        self._written = self._fingerprint()

    def _fingerprint(self) -> tuple[Any, ...]:
        """What, if unchanged, makes a state write pointless."""
        return (self.available,)

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write state only when something a user can see has changed.

        A system polled every few seconds mostly repeats itself (no PV at
        night, a full battery at noon); skipping those writes keeps the
        event loop and the recorder quiet.
        """
        fingerprint = self._fingerprint()
        if fingerprint == self._written:
            return
        self._written = fingerprint
        self.async_write_ha_state()


__all__ = ["DOMAIN", "SunstreamEntity"]
