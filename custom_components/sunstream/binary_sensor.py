"""Connectivity: whether the system answers."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import ATTR_REASON, ATTR_SOURCE
from .coordinator import SunstreamCoordinator
from .devices import readings
from .entity import Reported, SunstreamEntity, SunstreamPartEntity, async_add_reported, unique_id
from .runtime import SunstreamConfigEntry

PARALLEL_UPDATES = 0

CONNECTIVITY = BinarySensorEntityDescription(
    key="connectivity",
    translation_key="connectivity",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)
# A part's link: the same kind of sensor, on the part's device.
PART_CONNECTIVITY = replace(CONNECTIVITY, key="link", translation_key="link")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the system's connectivity sensor, and one per part as parts appear."""
    connectivity = SunstreamConnectivitySensor(entry.runtime_data.coordinator, CONNECTIVITY)
    async_add_entities([connectivity])
    async_add_reported(entry, async_add_entities, partial(_part_links, connectivity.coordinator))


def _part_links(coordinator: SunstreamCoordinator) -> Reported:
    """One link sensor per part the system lists (see ``async_add_reported``)."""
    for reading in readings(coordinator.data).values():
        part = reading.identity
        yield (
            unique_id(coordinator, PART_CONNECTIVITY.key, part),
            partial(SunstreamPartConnectivitySensor, coordinator, PART_CONNECTIVITY, part=part),
        )


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
        """Why the link is down, when it is; and what the link is.

        ``source`` is the config entry's kind of system, the same value as
        every event's ``source``: a client (the app) reads it from the state
        it already follows, where the device's maker and model cannot tell a
        Sungrow inverter on WiNet from one on Modbus TCP.
        """
        return {
            ATTR_REASON: self.coordinator.disconnect_reason,
            ATTR_SOURCE: self.coordinator.source.source_type,
        }

    def _fingerprint(self) -> tuple[Any, ...]:
        return (self.is_on, self.coordinator.disconnect_reason)


class SunstreamPartConnectivitySensor(SunstreamPartEntity, BinarySensorEntity):
    """On while a part behind the system (an inverter, a battery) is linked.

    Unavailable while the system itself is unreachable: then nobody knows.
    """

    @property
    def available(self) -> bool:
        """Known while the system answers and still lists the part."""
        return super().available and self.reading is not None

    @property
    def is_on(self) -> bool:
        """Whether the part reports a live link."""
        reading = self.reading
        return reading is not None and reading.online

    def _fingerprint(self) -> tuple[Any, ...]:
        return (self.available, self.is_on)
