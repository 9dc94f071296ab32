"""Diagnostics download: configuration, link state and the latest reading."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .pysunstream.capabilities import Diagnosable
from .runtime import SunstreamConfigEntry

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
    runtime = entry.runtime_data
    coordinator = runtime.coordinator
    source = coordinator.source
    data = coordinator.data
    return {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "link": {
            "source": source.source_type,
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
            "economics": asdict(data.economics),
        },
        "alerts": runtime.alerts.as_dict(),
        "command_values": coordinator.command_values.as_dict(),
        "source_state": async_redact_data(source.as_dict(), TO_REDACT),
        # What a source tells about its link (endpoint, counters, raw devices).
        "source_diagnostics": async_redact_data(
            source.diagnostics() if isinstance(source, Diagnosable) else {}, TO_REDACT
        ),
    }
