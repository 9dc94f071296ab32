"""What a loaded entry holds: ``entry.runtime_data``.

Built complete in ``async_setup_entry`` before any platform loads, so
entities and actions find every part of it in place.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .coordinator import SunstreamCoordinator
from .system_alerts import SystemAlerts


@dataclass(frozen=True, slots=True, kw_only=True)
class SunstreamRuntime:
    """One system's running parts.

    The system's device id is the coordinator's (``system_device_id``, given
    at construction): its events and the alerts' carry it.
    """

    coordinator: SunstreamCoordinator
    alerts: SystemAlerts


type SunstreamConfigEntry = ConfigEntry[SunstreamRuntime]
