"""What a loaded entry holds: ``entry.runtime_data``.

Built complete in ``async_setup_entry`` before any platform loads, so
entities and actions find every part of it in place.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .coordinator import SunstreamCoordinator
from .system_alerts import SystemAlerts


@dataclass(frozen=True, slots=True)
class SunstreamRuntime:
    """One system's running parts."""

    coordinator: SunstreamCoordinator
    alerts: SystemAlerts

    @property
    def system_device_id(self) -> str:
        """The system's device (the coordinator got it at construction)."""
        return self.coordinator.system_device_id


type SunstreamConfigEntry = ConfigEntry[SunstreamRuntime]
