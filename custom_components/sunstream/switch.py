"""Switches: the export limit, each time-of-use window, and the microgrid's run switch."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .control import (
    SettingEntity,
    SettingEntityDescription,
    async_add_battery_settings,
    async_add_controls,
    settings,
)
from .coordinator import SunstreamCoordinator
from .entity import SunstreamEntity
from .pysunstream.capabilities import Pausable
from .pysunstream.controls import WINDOWS, Setting, Window
from .runtime import SunstreamConfigEntry

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class SettingSwitchDescription(SwitchEntityDescription, SettingEntityDescription):
    """A device setting that is on or off."""


SETTING_SWITCHES: tuple[SettingSwitchDescription, ...] = (
    SettingSwitchDescription(
        key=Setting.EXPORT_LIMIT_ENABLED.value,
        translation_key=Setting.EXPORT_LIMIT_ENABLED.value,
        entity_category=EntityCategory.CONFIG,
        setting=Setting.EXPORT_LIMIT_ENABLED,
    ),
    *(SettingSwitchDescription.window(setting, "enabled") for setting in WINDOWS),
)

SIMULATION = SwitchEntityDescription(
    key="simulation_running",
    translation_key="simulation_running",
    entity_category=EntityCategory.CONFIG,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the settings switches the device keeps; the run switch to pausable simulations."""
    async_add_controls(entry, async_add_entities, settings(SETTING_SWITCHES, SettingSwitch))
    async_add_battery_settings(entry, async_add_entities, SETTING_SWITCHES, SettingSwitch)
    coordinator = entry.runtime_data.coordinator
    if isinstance(coordinator.source, Pausable):
        async_add_entities([SimulationSwitch(coordinator, coordinator.source)])


class SettingSwitch(SettingEntity, SwitchEntity):
    """The export limit, or one window, on or off as the device reports it."""

    entity_description: SettingSwitchDescription

    @property
    def is_on(self) -> bool | None:
        """Whether the device has the limit or the window enabled."""
        value = self.reported
        if isinstance(value, Window):
            return value.enabled
        return value if isinstance(value, bool) else None

    async def _async_turn(self, on: bool) -> None:
        value = self.reported
        await self._async_set(replace(value, enabled=on) if isinstance(value, Window) else on)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Enable on the device."""
        await self._async_turn(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Disable on the device."""
        await self._async_turn(False)


class SimulationSwitch(SunstreamEntity, SwitchEntity):
    """Runs or freezes the simulation; frozen readings repeat unchanged."""

    def __init__(self, coordinator: SunstreamCoordinator, system: Pausable) -> None:
        """Control ``system``."""
        super().__init__(coordinator, SIMULATION)
        self._system = system

    @property
    def is_on(self) -> bool:
        """Whether the simulation advances."""
        return self._system.running

    def _fingerprint(self) -> tuple[Any, ...]:
        return (self.available, self.is_on)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Start the simulation."""
        self._system.start()
        await self.coordinator.async_refresh()

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Stop the simulation."""
        self._system.stop()
        await self.coordinator.async_refresh()
