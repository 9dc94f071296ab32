"""Connectivity: whether the system answers."""

from __future__ import annotations

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

from .coordinator import SunstreamCoordinator
from .devices import readings
from .entity import Reported, SunstreamEntity, async_add_reported, unique_id
from .pysunstream.model import DeviceIdentity
from .runtime import SunstreamConfigEntry

PARALLEL_UPDATES = 0

CONNECTIVITY = BinarySensorEntityDescription(
    key="connectivity",
    translation_key="connectivity",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


PART_CONNECTIVITY = BinarySensorEntityDescription(
    key="link",
    translation_key="link",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the system's connectivity sensor, and one per part as parts appear."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities([SunstreamConnectivitySensor(coordinator, CONNECTIVITY)])

    def reported() -> Reported:
        for reading in readings(coordinator.data).values():
            part = reading.identity
            yield (
                unique_id(coordinator, PART_CONNECTIVITY.key, part),
                partial(SunstreamPartConnectivitySensor, coordinator, PART_CONNECTIVITY, part=part),
            )

    async_add_reported(entry, async_add_entities, reported)


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


class SunstreamPartConnectivitySensor(SunstreamEntity, BinarySensorEntity):
    """On while a part behind the system (an inverter, a battery) is linked.

    Unavailable while the system itself is unreachable: then nobody knows.
    """

    def __init__(
        self,
        coordinator: SunstreamCoordinator,
        description: BinarySensorEntityDescription,
        *,
        part: DeviceIdentity,
    ) -> None:
        """Follow the part with ``part.key``."""
        super().__init__(coordinator, description, part=part)
        self._key = part.key

    @property
    def available(self) -> bool:
        """Known while the system answers and still lists the part."""
        return super().available and self._key in readings(self.coordinator.data)

    @property
    def is_on(self) -> bool:
        """Whether the part reports a live link."""
        reading = readings(self.coordinator.data).get(self._key)
        return reading is not None and reading.online

    def _fingerprint(self) -> tuple[Any, ...]:
        return (self.available, self.is_on)
