"""Where a system's counters are kept between runs."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN, STORAGE_VERSION


def system_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """The ``.storage`` file of one config entry."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")
