"""The battery mode select: what the battery reports, and how to change it."""

from __future__ import annotations

from functools import partial
from typing import Any

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .battery_control import MODE_COMMANDS
from .const import DOMAIN
from .control import (
    BatteryControlEntity,
    async_add_battery_controls,
    async_add_controls,
    commands,
)
from .entity import Reported, unique_id
from .pysunstream.dispatch import CommandKind
from .pysunstream.model import BatteryMode, DeviceIdentity, Metric, as_number
from .runtime import SunstreamConfigEntry

PARALLEL_UPDATES = 1

BATTERY_MODE = SelectEntityDescription(
    key="battery_mode_control",
    translation_key="battery_mode_control",
    entity_category=EntityCategory.CONFIG,
    options=[mode.value for mode in MODE_COMMANDS],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the mode select once the battery takes commands."""
    async_add_controls(entry, async_add_entities, commands([BATTERY_MODE], BatteryModeSelect))
    coordinator = entry.runtime_data.coordinator

    def per_battery(battery: DeviceIdentity) -> Reported:
        uid = unique_id(coordinator, BATTERY_MODE.key, battery)
        yield uid, partial(BatteryModeSelect, coordinator, BATTERY_MODE, battery)

    async_add_battery_controls(entry, async_add_entities, per_battery)


class BatteryModeSelect(BatteryControlEntity, SelectEntity):
    """Self-consumption, forced charge or forced discharge.

    Shows the mode the battery reports, so a command an action started, or
    one that ended by itself, shows here. Choosing a forced mode sends a
    command with the battery control numbers; self-consumption sends stop.
    """

    @property
    def current_option(self) -> str | None:
        """The reported mode; unknown for one no user can choose (idle)."""
        mode = self._metric(Metric.BATTERY_MODE)
        return str(mode) if mode in MODE_COMMANDS else None

    def _fingerprint(self) -> tuple[Any, ...]:
        return (self.available, self.current_option)

    async def async_select_option(self, option: str) -> None:
        """Send the command ``option`` stands for."""
        coordinator = self.coordinator
        limits = self._limits
        kind = MODE_COMMANDS[BatteryMode(option)]
        values = self._values
        if limits is None:
            # The battery stopped reporting since the select was added.
            self.async_write_ha_state()
            raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_battery")
        if kind is not CommandKind.STOP:
            soc = as_number(self._metric(Metric.BATTERY_SOC))
            target = values.target_soc
            if soc is not None and (soc >= target if kind is CommandKind.CHARGE else soc <= target):
                # The command would end at once: say so instead of flicking back.
                self.async_write_ha_state()
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="target_soc_reached",
                    translation_placeholders={"soc": f"{soc:g}", "target": f"{target:g}"},
                )
        command = self._command(kind, limits)
        await self._async_write(lambda: coordinator.async_dispatch(command))
