"""Connectivity: whether the system answers."""

from __future__ import annotations

from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import SunstreamConfigEntry
from .entity import SunstreamEntity

PARALLEL_UPDATES = 0

CONNECTIVITY = BinarySensorEntityDescription(
    key="connectivity",
    translation_key="connectivity",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the system's connectivity sensor."""
    async_add_entities([SunstreamConnectivitySensor(entry.runtime_data, CONNECTIVITY)])


class SunstreamConnectivitySensor(SunstreamEntity, BinarySensorEntity):
    """On while the system answers polls.

    Unlike every other entity it stays available when the link drops:
    "off" is exactly the information a user automates on.
    """

    @property
    def available(self) -> bool:
        """Always available; the state itself tells the link."""
        return True

    @property
    def is_on(self) -> bool:
        """Whether the last poll was answered."""
        return bool(self.coordinator.connected)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Why the link is down, when it is."""
        return {"reason": self.coordinator.disconnect_reason}

    def _fingerprint(self) -> tuple[Any, ...]:
        return (self.is_on, self.coordinator.disconnect_reason)
