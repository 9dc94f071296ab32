"""Diagnostics download: configuration, link state and the latest reading."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .coordinator import SunstreamConfigEntry, SunstreamCoordinator

TO_REDACT = {
    CONF_HOST,
    CONF_PASSWORD,
    CONF_USERNAME,
    "serial",
    "dev_sn",
    "latitude",
    "longitude",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: SunstreamConfigEntry
) -> dict[str, Any]:
    """Everything needed to understand a system's behaviour, minus secrets."""
    coordinator = entry.runtime_data
    data = coordinator.data
    return {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "link": {
            "source": coordinator.source.source_type,
            "connected": coordinator.connected,
            "disconnect_reason": coordinator.disconnect_reason,
            "last_update_success": coordinator.last_update_success,
            "update_interval_s": (
                coordinator.update_interval.total_seconds() if coordinator.update_interval else None
            ),
        },
        "snapshot": None
        if data is None
        else {
            "taken_at": data.snapshot.taken_at.isoformat(),
            "metrics": {key.value: value for key, value in data.snapshot.metrics.items()},
            "extras": dict(data.snapshot.extras),
            "economics": data.economics,
        },
        "alerts": coordinator.alerts.as_dict() if coordinator.alerts else [],
        "command_values": coordinator.command_values.as_dict(),
        "source_state": async_redact_data(coordinator.source.as_dict(), TO_REDACT),
        "source_diagnostics": async_redact_data(_source_diagnostics(coordinator), TO_REDACT),
    }


def _source_diagnostics(coordinator: SunstreamCoordinator) -> dict[str, Any]:
    """What a source tells about its link (endpoint, counters, raw devices)."""
    diagnostics = getattr(coordinator.source, "diagnostics", None)
    return diagnostics() if callable(diagnostics) else {}
