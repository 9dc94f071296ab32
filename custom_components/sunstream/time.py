"""Time-of-use windows: the start and end of each, as the device stores them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import time

from homeassistant.components.time import TimeEntity, TimeEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .control import (
    SettingEntity,
    SettingEntityDescription,
    async_add_battery_settings,
    async_add_controls,
    settings,
)
from .pysunstream.controls import WINDOWS, Window
from .runtime import SunstreamConfigEntry

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class WindowTimeDescription(TimeEntityDescription, SettingEntityDescription):
    """One end of one window."""

    end: bool


WINDOW_TIMES: tuple[WindowTimeDescription, ...] = tuple(
    WindowTimeDescription.window(setting, edge, end=edge == "end")
    for setting in WINDOWS
    for edge in ("start", "end")
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a start and an end for each window the device keeps."""
    async_add_controls(entry, async_add_entities, settings(WINDOW_TIMES, WindowTime))
    async_add_battery_settings(entry, async_add_entities, WINDOW_TIMES, WindowTime)


class WindowTime(SettingEntity, TimeEntity):
    """A window's start or end; the device stores whole minutes (seconds are refused)."""

    entity_description: WindowTimeDescription

    @property
    def native_value(self) -> time | None:
        """The edge the device reported."""
        window = self.reported
        if not isinstance(window, Window):
            return None
        return window.end if self.entity_description.end else window.start

    async def async_set_value(self, value: time) -> None:
        """Move this edge; the other edge and the enable flag stay as reported."""
        window = self.reported
        if not isinstance(window, Window):
            # Off, its times hidden by the device (DeviceSettings.windows_untimed):
            # the only such device is a WiNet inverter with forced charging off.
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="winet_forced_charge_off"
            )
        # Seconds are refused (window_whole_minutes), not dropped: an
        # automation asking for 06:00:30 must hear that 06:00 is stored.
        if self.entity_description.end:
            await self._async_set(replace(window, end=value))
        else:
            await self._async_set(replace(window, start=value))
