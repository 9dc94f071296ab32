"""One event entity per system: alerts raised, cleared and acknowledged."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import SunstreamCoordinator
from .entity import SunstreamEntity
from .runtime import SunstreamConfigEntry
from .system_alerts import SystemAlerts

PARALLEL_UPDATES = 0

ALERT = EventEntityDescription(
    key="alert",
    translation_key="alert",
    event_types=["raised", "cleared", "acknowledged"],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the system's alert entity."""
    runtime = entry.runtime_data
    async_add_entities([SunstreamAlertEvent(runtime.coordinator, runtime.alerts)])


class SunstreamAlertEvent(SunstreamEntity, EventEntity):
    """Fires when one of the system's alert rules changes state."""

    def __init__(self, coordinator: SunstreamCoordinator, alerts: SystemAlerts) -> None:
        """Place the entity on the system's device, showing ``alerts``."""
        super().__init__(coordinator, ALERT)
        self._alerts = alerts

    @property
    def available(self) -> bool:
        """Alerts matter most when the link is down: stay available."""
        return True

    async def async_added_to_hass(self) -> None:
        """Listen to the system's alerts."""
        await super().async_added_to_hass()
        self.async_on_remove(self._alerts.add_listener(self._on_alert))

    @callback
    def _on_alert(self, event_type: str, attributes: dict[str, Any]) -> None:
        self._trigger_event(event_type, attributes)
        self.async_write_ha_state()

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The alerts active now, so a client that just connected can catch up."""
        return {"active": self._alerts.as_dict()}

    @callback
    def _handle_coordinator_update(self) -> None:
        """Nothing to show between alerts."""
